import { DomainError } from '../shared/domain-error';
import { applyAgentDefinitionPatch, normalizeAgentDefinition, validateAgentAction, type ValidationIssue } from './agent-definition.validation';
import type { AgentDefinitionInput } from './agent.definition';

const valid: AgentDefinitionInput = {
  name: 'order_watcher-2',
  kind: 'executor',
  engine: { type: 'rules', rules: [{ then: [{ action: 'reply', text: 'hi' }] }] },
  tools: ['reply'],
};

/** The `{ path, message }` issues that normalising `input` reports. */
function issuesOf(input: unknown): ValidationIssue[] {
  try {
    normalizeAgentDefinition(input as AgentDefinitionInput);
  } catch (error) {
    if (error instanceof DomainError && error.code === 'VALIDATION_FAILED') return error.details?.errors as ValidationIssue[];
    throw error;
  }
  throw new Error('expected VALIDATION_FAILED');
}
const pathsOf = (input: unknown) => issuesOf(input).map((issue) => issue.path);

describe('normalizeAgentDefinition', () => {
  it('fills defaults and keeps only known fields', () => {
    expect(normalizeAgentDefinition({ ...valid, extra: true } as AgentDefinitionInput)).toEqual({
      name: 'order_watcher-2',
      kind: 'executor',
      subscriptions: [],
      engine: valid.engine,
      tools: ['reply'],
      budgets: { maxHops: 8, maxDecisionsPerChain: 20, maxTokensPerChain: 20_000 },
      mailboxPolicy: 'queue',
    });
  });

  it.each([
    ['empty', ''],
    ['spaces', 'order watcher'],
    ['dots', 'order.watcher'],
    ['too long', 'a'.repeat(101)],
  ])('rejects a name with %s', (_label, name) => {
    expect(pathsOf({ ...valid, name })).toEqual(['name']);
  });

  it('accepts a 100-character name', () => {
    expect(normalizeAgentDefinition({ ...valid, name: 'a'.repeat(100) }).name).toHaveLength(100);
  });

  it('rejects an unknown kind, policy, and oversize description', () => {
    expect(pathsOf({ ...valid, kind: 'wizard', mailboxPolicy: 'drop', description: 'x'.repeat(2_001) })).toEqual([
      'description',
      'kind',
      'mailboxPolicy',
    ]);
  });

  it.each(['order.*', 'order.placed', '*'])('accepts the subscription type %s', (type) => {
    expect(normalizeAgentDefinition({ ...valid, subscriptions: [{ type }] }).subscriptions).toEqual([{ type }]);
  });

  it.each(['', 'order.*.placed', 'order.**', 'order placed'])('rejects the subscription type "%s"', (type) => {
    expect(pathsOf({ ...valid, subscriptions: [{ type }] })).toEqual(['subscriptions[0].type']);
  });

  it('rejects a subscription filter that is not a JSON Logic object', () => {
    expect(pathsOf({ ...valid, subscriptions: [{ type: 'a', filter: [1] }] })).toEqual(['subscriptions[0].filter']);
  });

  it('rejects unknown and repeated tools', () => {
    expect(pathsOf({ ...valid, tools: ['reply', 'reply', 'teleport'] })).toEqual(['tools[1]', 'tools[2]']);
  });

  it('rejects a rule without actions and a rule condition that is not an object', () => {
    expect(pathsOf({ ...valid, engine: { type: 'rules', rules: [{ when: 'yes', then: [] }] } })).toEqual([
      'engine.rules[0].when',
      'engine.rules[0].then',
    ]);
  });

  it('rejects an unknown engine type and a missing engine', () => {
    expect(pathsOf({ ...valid, engine: { type: 'magic' } })).toEqual(['engine.type']);
    expect(pathsOf({ ...valid, engine: undefined })).toEqual(['engine']);
  });

  it('checks the llm engine fields', () => {
    const engine = { type: 'llm', provider: 'skynet', model: '', baseUrl: 'ftp://x', temperature: 3 };
    expect(pathsOf({ ...valid, engine })).toEqual(['engine.provider', 'engine.model', 'engine.baseUrl', 'engine.temperature']);
  });

  it.each([
    [{ maxHops: 0 }, 'budgets.maxHops'],
    [{ maxDecisionsPerChain: 1.5 }, 'budgets.maxDecisionsPerChain'],
    [{ maxTokensPerChain: '100' }, 'budgets.maxTokensPerChain'],
    [{ maxCostPerChain: 0 }, 'budgets.maxCostPerChain'],
  ])('rejects the budgets %j', (budgets, path) => {
    expect(pathsOf({ ...valid, budgets })).toEqual([path]);
  });

  it('reports every problem at once, in the message too', () => {
    const input = { ...valid, name: '', tools: 'all' } as unknown as AgentDefinitionInput;
    expect(issuesOf(input).map((issue) => issue.path)).toEqual(['name', 'tools', 'engine.rules[0].then[0].action']);
    expect(() => normalizeAgentDefinition(input)).toThrow(/^name: .+; tools: .+; engine\.rules\[0\]\.then\[0\]\.action: .+/);
  });

  it('rejects something that is not an object', () => {
    expect(pathsOf(null)).toEqual(['definition']);
  });
});

describe('validateAgentAction', () => {
  const check = (action: unknown) => {
    const issues: ValidationIssue[] = [];
    const result = validateAgentAction(action, 'a', issues);
    return { result, paths: issues.map((issue) => issue.path) };
  };

  it.each([
    [{ action: 'reply', text: 'Hi {{subject}}' }],
    [{ action: 'send-message', to: 'agent-2', content: 'look at {{subject}}' }],
    [{ action: 'emit-event', eventType: 'order.flagged', subject: '{{subject}}', data: { reason: '{{data.reason}}' } }],
    [{ action: 'call-webhook', url: 'https://example.com/hook', method: 'PUT', body: { id: '{{subject}}' } }],
    [{ action: 'call-webhook', url: '{{memory.hookUrl}}' }],
    [{ action: 'remember', key: 'last', value: { at: '{{time}}' } }],
    [{ action: 'propose', proposed: { action: 'emit-event', eventType: 'refund.requested' }, reason: 'large refund' }],
  ])('accepts %j unchanged', (action) => {
    expect(check(action)).toEqual({ result: action, paths: [] });
  });

  it.each([
    [{ action: 'reply' }, ['a.text']],
    [{ action: 'send-message', to: '', content: 'x' }, ['a.to']],
    [{ action: 'emit-event', subject: 3 }, ['a.subject', 'a.eventType']],
    [{ action: 'call-webhook', url: 'example.com', method: 'TRACE' }, ['a.url', 'a.method']],
    [{ action: 'remember', key: 'k' }, ['a.value']],
    [{ action: 'propose', proposed: { action: 'propose', proposed: { action: 'reply', text: 'x' } } }, ['a.proposed']],
    [{ action: 'fly' }, ['a.action']],
    ['reply', ['a']],
  ])('rejects %j at %j', (action, paths) => {
    expect(check(action).paths).toEqual(paths);
  });

  it('strips unknown fields', () => {
    expect(check({ action: 'reply', text: 'x', secret: 1 }).result).toEqual({ action: 'reply', text: 'x' });
  });
});

describe('applyAgentDefinitionPatch', () => {
  const current = normalizeAgentDefinition({ ...valid, description: 'd', instructions: 'i', budgets: { maxCostPerChain: 2 } });

  it('replaces present fields, keeps absent ones, merges budgets', () => {
    expect(applyAgentDefinitionPatch(current, { kind: 'monitor', budgets: { maxHops: 2 } })).toEqual({
      ...current,
      kind: 'monitor',
      budgets: { ...current.budgets, maxHops: 2 },
    });
  });

  it('clears description, instructions and the cost limit given as null', () => {
    const next = applyAgentDefinitionPatch(current, { description: null, instructions: null, budgets: { maxCostPerChain: null } });
    expect(next).not.toHaveProperty('description');
    expect(next).not.toHaveProperty('instructions');
    expect(next.budgets).toEqual({ maxHops: 8, maxDecisionsPerChain: 20, maxTokensPerChain: 20_000 });
  });

  it('rejects a patch that is not an object', () => {
    expect(() => applyAgentDefinitionPatch(current, null as never)).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
  });
});
