/**
 * The GraphQL read side (API.md "GraphQL"), schema first: this text is the contract, the resolvers
 * only fill it from the read repositories, whose views give the field names (an agent's definition
 * is one `definition` document with its `definitionVersion`, where REST spreads it and calls the
 * version `version`).
 *
 * Every list takes `limit` (default 50, at most 500) and an opaque `cursor` (a previous page's
 * `nextCursor`). Every root read takes `minPosition`: the `position` a write answered with; the read
 * waits until the read models it uses have reached it (read your writes), or fails with
 * READ_MODELS_BEHIND.
 */
export const readSideTypeDefs = /* GraphQL */ `
  """
  Any JSON value (object, array, string, number, boolean or null).
  """
  scalar JSON

  """
  An integer up to 2^53 - 1 (global positions, checkpoints, lags), sent as a JSON number.
  """
  scalar SafeInt

  type Query {
    "Agents in creation order; retired ones only when asked for by status."
    agents(status: [AgentStatus!], limit: Int, cursor: String, minPosition: SafeInt): AgentPage!
    "An agent in any status, retired included; null if there is none."
    agent(id: ID!, minPosition: SafeInt): Agent
    "Conversations in creation order."
    conversations(limit: Int, cursor: String, minPosition: SafeInt): ConversationPage!
    "A conversation; null if there is none."
    conversation(id: ID!, minPosition: SafeInt): Conversation
    "Triggers in creation order; deleted ones only with includeDeleted."
    triggers(agentId: ID, includeDeleted: Boolean, limit: Int, cursor: String, minPosition: SafeInt): TriggerPage!
    "A trigger, deleted ones included (see deleted); null if there is none."
    trigger(id: ID!, minPosition: SafeInt): Trigger
    "Ingested domain events in global order."
    events(filter: EventFilter, limit: Int, cursor: String, minPosition: SafeInt): EventPage!
    "An entity's state folded from its domain events; null if no event named this subject."
    entity(subject: String!, minPosition: SafeInt): Entity
    "Each projection's version, checkpoint, lag and state (roles admin and operator only)."
    projections: [Projection!]!
    "A chain's causation graph, budgets used and halt; null when no agent took part in a chain with this correlation id."
    chain(correlationId: String!, minPosition: SafeInt): Chain
  }

  input EventFilter {
    "Exact type, or a prefix ending in * (order.*)."
    type: String
    subject: String
    "Only events strictly after this global position."
    after: SafeInt
  }

  enum AgentStatus {
    active
    paused
    retired
  }

  type Agent {
    id: ID!
    tenantId: String!
    name: String!
    kind: String!
    status: AgentStatus!
    statusReason: String
    "The AgentDefinition in force."
    definition: JSON!
    definitionVersion: Int!
    "Stream revision: the ETag and the If-Match a REST write must carry."
    revision: Int!
    decisionCount: Int!
    messageCount: Int!
    memory: JSON!
    createdAt: String!
    updatedAt: String!
    "Global position of the agent's last event."
    lastPosition: SafeInt!
    "The decision ledger, oldest first."
    decisions(limit: Int, cursor: String): AgentDecisionPage!
  }

  type AgentPage {
    items: [Agent!]!
    nextCursor: String
  }

  enum DecisionActionStatus {
    pending
    succeeded
    failed
  }

  type DecisionAction {
    index: Int!
    action: JSON
    status: DecisionActionStatus!
    result: JSON
    error: JSON
  }

  type AgentDecision {
    decisionId: ID!
    agentId: ID!
    input: JSON!
    engine: JSON!
    definitionVersion: Int!
    output: JSON
    actions: [DecisionAction!]!
    "Tokens and cost."
    usage: JSON!
    latencyMs: Float!
    correlationId: String!
    "decided, failed (see error) or cancelled (interrupted by a newer input)."
    status: String!
    error: JSON
    "Mailbox revision covered, coalesced inputs, hop."
    placement: JSON
    decidedAt: String!
    position: SafeInt!
  }

  type AgentDecisionPage {
    items: [AgentDecision!]!
    nextCursor: String
  }

  enum ConversationStatus {
    open
    closed
  }

  type Conversation {
    id: ID!
    tenantId: String!
    title: String
    status: ConversationStatus!
    agentIds: [ID!]!
    startedBy: JSON!
    messageCount: Int!
    pendingApprovalCount: Int!
    closedAt: String
    closeReason: String
    "Stream revision (ETag)."
    revision: Int!
    createdAt: String!
    updatedAt: String!
    lastPosition: SafeInt!
    "Messages and agent replies in order."
    messages(limit: Int, cursor: String): ConversationMessagePage!
    "Approvals still waiting for a decision, in the order they were asked for."
    pendingApprovals: [Approval!]!
    "Every approval, any status, in the order they were asked for."
    approvals: [Approval!]!
  }

  type ConversationPage {
    items: [Conversation!]!
    nextCursor: String
  }

  enum MessageKind {
    "Posted by a person or an agent."
    message
    "An agent's recorded reply."
    reply
  }

  type ConversationMessage {
    messageId: ID!
    kind: MessageKind!
    author: JSON!
    content: String!
    decisionId: ID
    inReplyTo: ID
    postedAt: String!
    position: SafeInt!
  }

  type ConversationMessagePage {
    items: [ConversationMessage!]!
    nextCursor: String
  }

  enum ApprovalStatus {
    pending
    approved
    rejected
    expired
    cancelled
  }

  type Approval {
    approvalId: ID!
    agentId: ID!
    decisionId: ID!
    action: JSON
    reason: String
    status: ApprovalStatus!
    decision: String
    comment: String
    resolvedBy: JSON
    requestedAt: String!
    expiresAt: String
    settledAt: String
  }

  type Trigger {
    id: ID!
    tenantId: String!
    agentId: ID!
    name: String!
    "The TriggerDefinition in force (name, condition, action, cooldown)."
    definition: JSON!
    definitionVersion: Int!
    enabled: Boolean!
    deleted: Boolean!
    firingCount: Int!
    lastFiredAt: String
    "Stream revision (ETag)."
    revision: Int!
    createdAt: String!
    updatedAt: String!
    lastPosition: SafeInt!
    "Firings, oldest first, each with the events that matched."
    firings(limit: Int, cursor: String): TriggerFiringPage!
    "What the trigger engine counted and when its condition state started (as on GET /api/v1/triggers/:id); null until the engine has seen it."
    evaluation: JSON
  }

  type TriggerPage {
    items: [Trigger!]!
    nextCursor: String
  }

  type TriggerFiring {
    firingId: ID!
    triggerId: ID!
    agentId: ID!
    occurrenceKey: String!
    "The events that matched: { eventId, position, type, subject, time }."
    matchedEvents: [JSON!]!
    action: JSON!
    definitionVersion: Int!
    firedAt: String!
    "The window's subject; null for global windows and schedules."
    subject: String
    "Decided by a deadline the engine reached late (it was down or behind)."
    late: Boolean!
    position: SafeInt!
  }

  type TriggerFiringPage {
    items: [TriggerFiring!]!
    nextCursor: String
  }

  "An ingested CloudEvent and where it sits in the store."
  type Event {
    position: SafeInt!
    "The stored event's id."
    eventId: ID!
    "CloudEvent id."
    id: String!
    source: String!
    type: String!
    subject: String
    time: String
    datacontenttype: String
    dataschema: String
    extensions: JSON!
    data: JSON
    recordedAt: String!
    tenantId: String!
  }

  type EventPage {
    items: [Event!]!
    nextCursor: String
  }

  type Entity {
    subject: String!
    tenantId: String!
    state: JSON!
    eventCount: Int!
    "Events seen per type."
    typeCounts: JSON!
    firstSeen: String!
    lastSeen: String!
    lastEventType: String!
    "Global position of the last event folded in."
    lastPosition: SafeInt!
    "The entity's events in global order."
    events(limit: Int, cursor: String): EventPage!
  }

  "Everything caused by one input (sharing its correlationId) once an agent took part."
  type Chain {
    correlationId: String!
    tenantId: String!
    "The originating event, when known."
    root: ChainRoot
    "The chain's events in global position order (the root is not repeated here)."
    nodes: [ChainNode!]!
    "causationId -> eventId, one per node that has a cause."
    edges: [ChainEdge!]!
    "Every agent involved, in the order they first appeared."
    agentIds: [ID!]!
    "Budgets used."
    used: ChainUsage!
    "Set once the chain was stopped for going beyond a budget."
    halted: ChainHalt
    nodeCount: Int!
    "True when only the first nodes are listed (very large chains)."
    truncated: Boolean!
    firstPosition: SafeInt!
    lastPosition: SafeInt!
    "When the chain's latest event happened."
    updatedAt: String!
  }

  type ChainRoot {
    "Stored event id (the correlationId)."
    id: ID!
    type: String!
    position: SafeInt!
    subject: String
  }

  type ChainNode {
    position: SafeInt!
    eventId: ID!
    "The event that caused this one: the root, another node, or null."
    causationId: ID
    hop: Int!
    type: String!
    streamName: String!
    agentId: ID
    decisionId: ID
    occurredAt: String!
  }

  type ChainEdge {
    from: ID!
    to: ID!
  }

  type ChainUsage {
    "Largest hop."
    hops: Int!
    "Decisions counted against the chain."
    decisions: Int!
    tokens: SafeInt!
    costUsd: Float!
  }

  type ChainHalt {
    "max-hops, max-decisions, max-tokens or max-cost."
    reason: String!
    limit: Float!
    used: Float!
    "The agent whose step would have gone beyond the limit."
    agentId: ID!
    haltedAt: String!
  }

  enum ProjectionState {
    live
    rebuilding
    switching
    failed
  }

  type RebuildProgress {
    targetVersion: Int!
    position: SafeInt!
    head: SafeInt!
    eventsPerSecond: Float!
    "Seconds until the rebuild reaches the head at the current rate; null while the rate is unknown."
    etaSeconds: Float
    startedAt: String!
  }

  type Projection {
    name: String!
    "Code version of the projection in this process."
    version: Int!
    "The version whose rows queries read."
    activeVersion: Int!
    checkpoint: SafeInt!
    head: SafeInt!
    lag: SafeInt!
    state: ProjectionState!
    rebuild: RebuildProgress
    lastError: String
  }
`;
