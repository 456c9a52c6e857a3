import { DomainError, evolveEntityState, normalizeAgentDefinition, type AgentDefinition, type EntityState, type RulesEngine } from '@meridian/domain';
import { SubscriptionIndex } from '../routing/subscription-matcher';
import type { CloudEventView } from '../routing/cloud-event-view';
import { checkRulesEngine, decide } from '../reasoning/rules/rules-engine';
import type { DecisionContext } from '../reasoning/rules/decision-context';
import { AGENT_PRESET_KINDS, AGENT_PRESETS, agentPreset, agentPresetCatalogue, keywordCondition } from './agent-presets';

/** A preset's definition as the runtime would hold it: validated, defaults filled in, rules compiled. */
function defined(definition: ReturnType<typeof agentPreset>): AgentDefinition & { engine: RulesEngine } {
  const normalized = normalizeAgentDefinition(definition);
  if (normalized.engine.type !== 'rules') throw new Error('expected a rules engine');
  expect(checkRulesEngine(normalized.engine)).toEqual([]);
  return normalized as AgentDefinition & { engine: RulesEngine };
}

function thrownBy(attempt: () => unknown): DomainError {
  try {
    attempt();
  } catch (error: unknown) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('expected a DomainError');
}

const event = (type: string, subject: string | null, data: unknown, id = `ce-${type}-${subject ?? 'none'}`): CloudEventView => ({
  type,
  subject,
  source: 'urn:shop',
  id,
  time: '2026-03-01T10:00:00.000Z',
  data,
  extensions: {},
});

/** The entity of `subject` after `events` (type, data), folded the way the runtime folds it. */
function entityAfter(subject: string, events: readonly (readonly [string, unknown])[]): EntityState | null {
  return events.reduce<EntityState | null>((state, [type, data], n) => evolveEntityState(state, subject, { type, data, time: `2026-03-01T10:00:0${n % 10}.000Z` }), null);
}

function eventContext(agent: AgentDefinition, view: CloudEventView, entity: EntityState | null, memory: Record<string, unknown> = {}): DecisionContext {
  return {
    input: { kind: 'event', ref: 'stored-1', payload: { kind: 'event', ref: 'stored-1', position: 10, type: view.type, ...(view.subject !== null && { subject: view.subject }) } },
    event: view,
    entity,
    memory,
    agent: { id: 'agent-1', name: agent.name, kind: agent.kind },
  };
}

function messageContext(agent: AgentDefinition, content: string, kind: 'message' | 'agent-message' = 'message'): DecisionContext {
  return {
    input: { kind, ref: 'msg-1', payload: { kind, ref: 'msg-1', content } },
    message: { from: kind === 'message' ? 'user-7' : 'agent-9', content },
    memory: {},
    agent: { id: 'agent-1', name: agent.name, kind: agent.kind },
  };
}

/** Which of the agent's subscriptions route `view` to it, as the router decides. */
function routes(agent: AgentDefinition, view: CloudEventView): boolean {
  const index = new SubscriptionIndex();
  index.set('agent-1', agent.subscriptions);
  return index.matchView(view).includes('agent-1');
}

describe('agent presets: analyst', () => {
  const analyst = defined(agentPreset('analyst', { eventType: 'order.*', threshold: 5 }));

  it('given the preset, then it is an analyst on order.* with the tools its rules use', () => {
    expect(analyst).toMatchObject({ name: 'analyst', kind: 'analyst', subscriptions: [{ type: 'order.*' }], tools: ['emit-event', 'remember'] });
  });

  it('given an entity whose events reach the threshold, when the fifth event is decided, then analysis.burst is emitted with the counts and the anomaly remembered', () => {
    const history = [['order.placed', { total: 10 }], ['order.updated', {}], ['order.updated', {}], ['order.updated', {}], ['order.updated', { note: 'again' }]] as const;
    const view = event('order.updated', 'order-42', { note: 'again' }, 'ce-5');
    const output = decide(analyst.engine, eventContext(analyst, view, entityAfter('order-42', history)));
    expect(output.matchedRules).toEqual([{ index: 0, name: 'burst' }]);
    expect(output.actions).toEqual([
      {
        action: 'emit-event',
        eventType: 'analysis.burst',
        subject: 'order-42',
        data: {
          subject: 'order-42',
          eventType: 'order.updated',
          threshold: 5,
          count: '5',
          typeCount: '4',
          firstSeen: '2026-03-01T10:00:00.000Z',
          lastSeen: '2026-03-01T10:00:04.000Z',
          triggeredBy: 'ce-5',
        },
      },
      {
        action: 'remember',
        key: 'lastAnomaly',
        value: { kind: 'burst', subject: 'order-42', eventType: 'order.updated', eventId: 'ce-5', at: '2026-03-01T10:00:00.000Z', count: '5', threshold: 5 },
      },
    ]);
  });

  it('given counts below and past the threshold, when deciding, then nothing is emitted: a burst is reported once per entity', () => {
    const below = entityAfter('order-1', [['order.placed', {}], ['order.paid', {}]]);
    const past = entityAfter('order-1', Array.from({ length: 6 }, () => ['order.updated', {}] as const));
    expect(decide(analyst.engine, eventContext(analyst, event('order.paid', 'order-1', {}), below)).actions).toEqual([]);
    expect(decide(analyst.engine, eventContext(analyst, event('order.updated', 'order-1', {}), past)).actions).toEqual([]);
  });

  it('given an event without a subject (no entity), when deciding, then nothing matches and nothing fails', () => {
    const output = decide(analyst.engine, eventContext(analyst, event('order.placed', null, {}), null));
    expect(output).toEqual({ matchedRules: [], actions: [] });
  });

  it('given valueField and valueAbove, when a value is above, then analysis.outlier is emitted; at or below, not', () => {
    const watcher = defined(agentPreset('analyst', { eventType: 'payment.*', threshold: 100, valueField: 'amount.value', valueAbove: 1000 }));
    const big = event('payment.captured', 'pay-1', { amount: { value: 2500, currency: 'EUR' } }, 'ce-big');
    const output = decide(watcher.engine, eventContext(watcher, big, entityAfter('pay-1', [['payment.captured', big.data]])));
    expect(output.matchedRules).toEqual([{ index: 1, name: 'outlier' }]);
    expect(output.actions[0]).toEqual({
      action: 'emit-event',
      eventType: 'analysis.outlier',
      subject: 'pay-1',
      data: { subject: 'pay-1', eventType: 'payment.captured', field: 'amount.value', value: '2500', above: 1000, triggeredBy: 'ce-big' },
    });
    expect(output.actions[1]).toMatchObject({ action: 'remember', key: 'lastAnomaly', value: { kind: 'outlier', field: 'amount.value', value: '2500', above: 1000 } });
    const small = event('payment.captured', 'pay-2', { amount: { value: 1000 } });
    expect(decide(watcher.engine, eventContext(watcher, small, entityAfter('pay-2', [['payment.captured', small.data]]))).actions).toEqual([]);
  });

  it('given a subscription that would include its own analysis events, then the filter keeps them out; order.* needs no filter', () => {
    const everything = defined(agentPreset('analyst', {}));
    expect(routes(everything, event('order.placed', 'o-1', {}))).toBe(true);
    expect(routes(everything, event('analysis.burst', 'o-1', {}))).toBe(false);
    expect(routes(analyst, event('order.placed', 'o-1', {}))).toBe(true);
    expect(analyst.subscriptions[0].filter).toBeUndefined();
    expect(routes(defined(agentPreset('analyst', { emitPrefix: 'insight' })), event('insight.burst', 'o-1', {}))).toBe(false);
  });

  it('given unusable options, then VALIDATION_FAILED names each of them', () => {
    const error = thrownBy(() => agentPreset('analyst', { eventType: 'order.* x', threshold: 0, valueAbove: 3 }));
    expect(error.code).toBe('VALIDATION_FAILED');
    expect((error.details?.errors as { path: string }[]).map((issue) => issue.path)).toEqual(['options.eventType', 'options.threshold', 'options.valueField']);
    expect(thrownBy(() => agentPreset('analyst', { eventType: 'analysis.*' })).message).toContain('options.eventType');
    expect(thrownBy(() => agentPreset('analyst', { valueField: '__proto__.x', valueAbove: 1 })).message).toContain('options.valueField');
  });
});

describe('agent presets: communicator', () => {
  const communicator = defined(agentPreset('communicator', { name: 'support-desk' }));
  const replies = (content: string, kind: 'message' | 'agent-message' = 'message') => decide(communicator.engine, messageContext(communicator, content, kind)).actions;

  it('given a greeting, then it replies with the greeting, naming itself', () => {
    expect(replies('Hello there')).toEqual([{ action: 'reply', text: 'Hello! I am support-desk. Say "help" to see what I can do.' }]);
    expect(replies('hi')).toHaveLength(1);
    expect(replies('HEY, anyone?')[0]).toMatchObject({ text: expect.stringContaining('Hello!') });
  });

  it('given a request for help, even with a greeting, then only the help reply', () => {
    expect(replies('hello, I need help')).toEqual([{ action: 'reply', text: expect.stringContaining('I answer questions') }]);
    expect(replies('Help!')).toHaveLength(1);
  });

  it('given anything else, then the fallback; keywords match at word starts only', () => {
    expect(replies('where is my parcel?')).toEqual([{ action: 'reply', text: expect.stringContaining('did not understand') }]);
    expect(replies('this is unhelpful, they said')).toEqual([{ action: 'reply', text: expect.stringContaining('did not understand') }]);
    expect(replies('history of my orders')).toEqual([{ action: 'reply', text: expect.stringContaining('did not understand') }]);
  });

  it('given another agent’s message, then no reply: two communicators never talk forever', () => {
    expect(replies('hello', 'agent-message')).toEqual([]);
  });

  it('given fallbackReply null and custom keywords and texts, then only those answer', () => {
    const custom = defined(agentPreset('communicator', { greetings: ['bonjour'], helpKeywords: ['aide'], greetingReply: 'Bonjour {{message.from}}', helpReply: 'Voici', fallbackReply: null }));
    expect(decide(custom.engine, messageContext(custom, 'Bonjour !')).actions).toEqual([{ action: 'reply', text: 'Bonjour user-7' }]);
    expect(decide(custom.engine, messageContext(custom, 'Aide, svp')).actions).toEqual([{ action: 'reply', text: 'Voici' }]);
    expect(decide(custom.engine, messageContext(custom, 'hello')).actions).toEqual([]);
  });

  it('given llm options, then an llm communicator with instructions and the reply tool only', () => {
    const llm = normalizeAgentDefinition(agentPreset('communicator', { llm: { provider: 'openai-compatible', model: 'gpt-4o-mini', baseUrl: 'http://127.0.0.1:11434/v1', temperature: 0 } }));
    expect(llm).toMatchObject({ kind: 'communicator', engine: { type: 'llm', provider: 'openai-compatible', model: 'gpt-4o-mini', baseUrl: 'http://127.0.0.1:11434/v1', temperature: 0 }, tools: ['reply'] });
    expect(llm.instructions).toContain('reply tool');
    expect(thrownBy(() => agentPreset('communicator', { llm: { provider: 'nope' as 'fake', model: '' } })).message).toMatch(/options\.llm\.provider.*options\.llm\.model/);
  });

  it('keywordCondition tries lower case, Capitalised and UPPER CASE at the start of a word', () => {
    expect(keywordCondition(['help'])).toEqual({
      or: [
        { in: [' help', { cat: [' ', { var: 'message.content' }, ' '] }] },
        { in: [' Help', { cat: [' ', { var: 'message.content' }, ' '] }] },
        { in: [' HELP', { cat: [' ', { var: 'message.content' }, ' '] }] },
      ],
    });
  });
});

describe('agent presets: executor', () => {
  const options = { eventType: 'order.paid', webhookUrl: 'https://fulfilment.example.com/orders/{{event.subject}}', confirmationType: 'fulfilment.requested' };
  const executor = defined(agentPreset('executor', options));

  it('given a subscribed event, then it calls the webhook with the event, then emits the confirmation', () => {
    const view = event('order.paid', 'order-7', { total: 120, items: [{ sku: 'A', qty: 1 }] }, 'ce-77');
    const output = decide(executor.engine, eventContext(executor, view, entityAfter('order-7', [['order.paid', view.data]])));
    expect(output.actions).toEqual([
      {
        action: 'call-webhook',
        url: 'https://fulfilment.example.com/orders/order-7',
        method: 'POST',
        body: { id: 'ce-77', source: 'urn:shop', type: 'order.paid', subject: 'order-7', time: '2026-03-01T10:00:00.000Z', data: '{"total":120,"items":[{"sku":"A","qty":1}]}' },
      },
      {
        action: 'emit-event',
        eventType: 'fulfilment.requested',
        subject: 'order-7',
        data: { eventId: 'ce-77', eventType: 'order.paid', webhook: 'https://fulfilment.example.com/orders/order-7', method: 'POST' },
      },
    ]);
    expect(executor).toMatchObject({ kind: 'executor', subscriptions: [{ type: 'order.paid' }], tools: ['call-webhook', 'emit-event'] });
  });

  it('given a message rather than an event, then it does nothing', () => {
    expect(decide(executor.engine, messageContext(executor, 'do it')).actions).toEqual([]);
  });

  it('given a filter and a wildcard that covers its confirmation, then the subscription keeps the filter and leaves its own confirmations out', () => {
    const wide = defined(agentPreset('executor', { eventType: 'order.*', filter: { '>=': [{ var: 'data.total' }, 100] }, webhookUrl: 'https://hooks.example.com/x', confirmationType: 'order.dispatched' }));
    expect(routes(wide, event('order.paid', 'o-1', { total: 150 }))).toBe(true);
    expect(routes(wide, event('order.paid', 'o-1', { total: 50 }))).toBe(false);
    expect(routes(wide, event('order.dispatched', 'o-1', { total: 150 }))).toBe(false);
  });

  it('given no webhook URL, a bad method or a confirmation equal to the event type, then VALIDATION_FAILED', () => {
    expect(thrownBy(() => agentPreset('executor', { eventType: 'order.paid', webhookUrl: 'ftp://x' })).message).toContain('options.webhookUrl');
    expect(thrownBy(() => agentPreset('executor', { eventType: 'order.paid', webhookUrl: 'https://x.example', method: 'TRACE' as 'GET' })).message).toContain('options.method');
    expect(thrownBy(() => agentPreset('executor', { eventType: 'order.paid', webhookUrl: 'https://x.example', confirmationType: 'order.paid' })).message).toContain('options.confirmationType');
  });
});

describe('agent presets: monitor', () => {
  const monitor = defined(agentPreset('monitor', {}));
  const platformEvent = (type: string, subject: string, data: unknown, previous = 0) =>
    eventContext(monitor, { ...event(type, subject, data, `ce-${type}`), source: 'meridian://platform' }, entityAfter(subject, [...Array.from({ length: previous }, () => [type, data] as const), [type, data]]));

  it('given the preset, then a monitor on meridian.* that may message and remember', () => {
    expect(monitor).toMatchObject({ name: 'platform-monitor', kind: 'monitor', subscriptions: [{ type: 'meridian.*' }], tools: ['send-message', 'remember'] });
  });

  it('given meridian.chain.halted, then it tells the oncall tag why, and counts the incident for the agent', () => {
    const halted = { correlationId: 'corr-1', reason: 'max-decisions', limit: 3, used: 4, agentId: 'pong', haltedAt: '2026-03-01T10:00:00.000Z' };
    const output = decide(monitor.engine, platformEvent('meridian.chain.halted', 'pong', halted, 1));
    expect(output.actions).toEqual([
      { action: 'send-message', to: 'tag:oncall', content: 'Chain corr-1 halted: max-decisions (limit 3, would be 4) at agent pong.' },
      { action: 'remember', key: 'incidents:pong', value: { count: '2', lastType: 'meridian.chain.halted', lastAt: '2026-03-01T10:00:00.000Z' } },
      { action: 'remember', key: 'lastIncident', value: { type: 'meridian.chain.halted', subject: 'pong', at: '2026-03-01T10:00:00.000Z', eventId: 'ce-meridian.chain.halted' } },
    ]);
  });

  it('given meridian.decision.failed and meridian.projection.lagging, then the message says what failed or lags', () => {
    const failed = { agentId: 'a-1', decisionId: 'd-1', correlationId: 'c-1', error: { code: 'LLM_TIMEOUT', message: 'The model did not answer in 30 s' } };
    expect(decide(monitor.engine, platformEvent('meridian.decision.failed', 'a-1', failed)).actions[0]).toEqual({
      action: 'send-message',
      to: 'tag:oncall',
      content: 'Agent a-1 failed a decision (LLM_TIMEOUT): The model did not answer in 30 s [decision d-1, chain c-1]',
    });
    expect(decide(monitor.engine, platformEvent('meridian.projection.lagging', 'entities', { projection: 'entities', lag: 25000, threshold: 10000 })).actions[0]).toEqual({
      action: 'send-message',
      to: 'tag:oncall',
      content: 'Projection entities is 25000 events behind (threshold 10000).',
    });
  });

  it('given a webhook and notify null, then it forwards every platform event and messages nobody', () => {
    const forwarding = defined(agentPreset('monitor', { notify: null, webhookUrl: 'https://incidents.example.com/meridian' }));
    expect(forwarding.tools).toEqual(['remember', 'call-webhook']);
    const context = { ...eventContext(forwarding, { ...event('meridian.dead-letter', 'meridian.inbound', { offset: 7 }, 'dl-1'), source: 'meridian://platform' }, null) };
    const output = decide(forwarding.engine, context);
    expect(output.actions.map((action) => action.action)).toEqual(['call-webhook', 'remember', 'remember']);
    expect(output.actions[0]).toEqual({
      action: 'call-webhook',
      url: 'https://incidents.example.com/meridian',
      method: 'POST',
      body: { id: 'dl-1', type: 'meridian.dead-letter', subject: 'meridian.inbound', time: '2026-03-01T10:00:00.000Z', data: '{"offset":7}' },
    });
  });

  it('given notify kind:monitor or a bad webhook, then VALIDATION_FAILED', () => {
    expect(thrownBy(() => agentPreset('monitor', { notify: 'kind:monitor' })).message).toContain('options.notify');
    expect(thrownBy(() => agentPreset('monitor', { webhookUrl: 'not a url' })).message).toContain('options.webhookUrl');
  });
});

describe('agent presets: catalogue', () => {
  it('lists the four kinds, each with parameters and an example definition that validates', () => {
    const catalogue = agentPresetCatalogue();
    expect(catalogue.map((preset) => preset.kind)).toEqual([...AGENT_PRESET_KINDS]);
    for (const preset of catalogue) {
      expect(preset.parameters.length).toBeGreaterThan(0);
      expect(normalizeAgentDefinition(preset.exampleDefinition).kind).toBe(preset.kind);
      expect(preset.exampleDefinition).toEqual(agentPreset(preset.kind, AGENT_PRESETS[preset.kind].example));
    }
    expect(AGENT_PRESETS.executor.parameters.filter((parameter) => parameter.required).map((parameter) => parameter.name)).toEqual(['eventType', 'webhookUrl']);
  });
});
