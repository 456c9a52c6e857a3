import { DomainError, type AgentRule, type EntityState, type RulesEngine } from '@meridian/domain';
import type { DecisionContext } from './decision-context';
import { checkRulesEngine, compileRulesEngine, decide } from './rules-engine';

const engine = (...rules: AgentRule[]): RulesEngine => ({ type: 'rules', rules });

const entity: EntityState = {
  subject: 'order-1',
  state: { status: 'paid', customer: { name: 'Ada', tier: 'gold' }, total: 150 },
  eventCount: 3,
  firstSeen: '2026-01-01T00:00:00.000Z',
  lastSeen: '2026-01-01T01:00:00.000Z',
  lastEventType: 'order.paid',
  typeCounts: { 'order.placed': 1, 'order.paid': 2 },
};

const eventContext = (overrides: Partial<DecisionContext> = {}): DecisionContext => ({
  input: { kind: 'event', ref: 'evt-1', payload: { total: 150 } },
  event: {
    type: 'order.paid',
    subject: 'order-1',
    source: 'shop',
    id: 'ce-1',
    time: '2026-01-01T01:00:00.000Z',
    data: { total: 150, items: [{ sku: 'A1', qty: 2 }] },
    extensions: { region: 'eu' },
  },
  entity,
  memory: { lastOrder: 'order-0', count: 2 },
  agent: { id: 'agent-1', name: 'order-watcher', kind: 'monitor' },
  ...overrides,
});

const messageContext = (content: string): DecisionContext => ({
  input: { kind: 'message', ref: 'msg-1', payload: { content } },
  message: { from: 'user-1', content },
  memory: {},
  agent: { id: 'agent-1', name: 'helper', kind: 'communicator' },
});

const reply = (text: string) => ({ action: 'reply' as const, text });

function thrownBy(attempt: () => unknown): unknown {
  try {
    attempt();
  } catch (error: unknown) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('rules engine: matching', () => {
  it('given rules whose conditions hold and fail, when deciding, then all holding rules fire in definition order', () => {
    const definition = engine(
      { name: 'paid', when: { '==': [{ var: 'event.type' }, 'order.paid'] }, then: [reply('paid'), reply('paid again')] },
      { name: 'shipped', when: { '==': [{ var: 'event.type' }, 'order.shipped'] }, then: [reply('shipped')] },
      { when: { '>': [{ var: 'event.data.total' }, 100] }, then: [reply('big')] },
    );
    expect(decide(definition, eventContext())).toEqual({
      matchedRules: [{ index: 0, name: 'paid' }, { index: 2 }],
      actions: [reply('paid'), reply('paid again'), reply('big')],
    });
  });

  it('given no rule holds, when deciding, then there are no actions', () => {
    const definition = engine({ when: { '==': [{ var: 'event.type' }, 'order.shipped'] }, then: [reply('x')] });
    expect(decide(definition, eventContext())).toEqual({ matchedRules: [], actions: [] });
  });

  it('given a rule without a condition, when deciding, then it always fires', () => {
    expect(decide(engine({ then: [reply('always')] }), messageContext('hi')).actions).toEqual([reply('always')]);
  });

  it('given conditions on entity state, when deciding, then they read the folded state and counts', () => {
    const definition = engine(
      { name: 'gold', when: { '==': [{ var: 'entity.state.customer.tier' }, 'gold'] }, then: [reply('gold')] },
      { name: 'unpaid', when: { '!=': [{ var: 'entity.state.status' }, 'paid'] }, then: [reply('unpaid')] },
      { name: 'regular', when: { '>=': [{ var: 'entity.eventCount' }, 3] }, then: [reply('regular')] },
    );
    expect(decide(definition, eventContext()).matchedRules).toEqual([{ index: 0, name: 'gold' }, { index: 2, name: 'regular' }]);
  });

  it('given a condition on entity state and no entity yet, when deciding, then the condition reads null and does not hold', () => {
    const definition = engine({ when: { '==': [{ var: 'entity.state.status' }, 'paid'] }, then: [reply('x')] });
    expect(decide(definition, eventContext({ entity: null }))).toEqual({ matchedRules: [], actions: [] });
  });

  it('given conditions on memory, when deciding, then they read the agent memory', () => {
    const definition = engine(
      { when: { '!=': [{ var: 'memory.lastOrder' }, { var: 'event.subject' }] }, then: [reply('new order')] },
      { when: { '<': [{ var: 'memory.count' }, 2] }, then: [reply('few')] },
    );
    expect(decide(definition, eventContext()).actions).toEqual([reply('new order')]);
  });

  it('given a condition on a chat message, when deciding, then it reads the message and input kind', () => {
    const definition = engine({
      when: { and: [{ '==': [{ var: 'input.kind' }, 'message'] }, { in: ['refund', { var: 'message.content' }] }] },
      then: [reply('Refunds take 3 days, {{message.from}}.')],
    });
    expect(decide(definition, messageContext('about my refund')).actions).toEqual([reply('Refunds take 3 days, user-1.')]);
    expect(decide(definition, messageContext('hello')).actions).toEqual([]);
  });

  it('given a condition that returns a non-boolean, when deciding, then the rule does not fire and the error is in the output', () => {
    const definition = engine(
      { name: 'sloppy', when: { var: 'event.data.total' }, then: [reply('x')] },
      { name: 'fine', then: [reply('y')] },
    );
    expect(decide(definition, eventContext())).toEqual({
      matchedRules: [{ index: 1, name: 'fine' }],
      actions: [reply('y')],
      errors: [{ index: 0, name: 'sloppy', reason: 'non-boolean', message: 'returned 150, not a boolean' }],
    });
  });

  it('given trace is asked for, when deciding, then every rule is listed with whether it matched and why not', () => {
    const definition = engine(
      { name: 'a', when: { '==': [1, 1] }, then: [reply('a1'), reply('a2')] },
      { name: 'b', when: { '==': [1, 2] }, then: [reply('b')] },
      { when: { var: 'memory.count' }, then: [reply('c')] },
    );
    expect(decide(definition, eventContext(), { trace: true }).trace).toEqual([
      { index: 0, name: 'a', matched: true, actions: 2 },
      { index: 1, name: 'b', matched: false, actions: 0 },
      { index: 2, matched: false, actions: 0, error: 'non-boolean: returned 2, not a boolean' },
    ]);
  });
});

describe('rules engine: templates', () => {
  it('given templates over event, entity, memory and agent, when deciding, then they are rendered', () => {
    const definition = engine({
      then: [reply('{{agent.name}}: {{event.subject}} is {{entity.state.status}} for {{entity.state.customer.name}} (last {{memory.lastOrder}}, {{event.extensions.region}})')],
    });
    expect(decide(definition, eventContext()).actions).toEqual([reply('order-watcher: order-1 is paid for Ada (last order-0, eu)')]);
  });

  it('given templates referring to missing values, when deciding, then those render as empty text', () => {
    const definition = engine({ then: [reply('[{{event.data.nope}}][{{entity.state.a.b.c}}][{{memory.none}}][{{message.content}}]')] });
    expect(decide(definition, eventContext({ entity: null })).actions).toEqual([reply('[][][][]')]);
  });

  it('given text that looks like HTML, when rendered, then nothing is escaped', () => {
    const context = eventContext({ memory: { note: '<b>"5 > 3" & \'ok\'</b>' } });
    expect(decide(engine({ then: [reply('{{memory.note}}')] }), context).actions).toEqual([reply('<b>"5 > 3" & \'ok\'</b>')]);
  });

  it('given the json helper and block helpers, when rendered, then values render as JSON and blocks iterate', () => {
    const definition = engine({
      then: [reply('{{json event.data.items}}|{{#each event.data.items}}{{sku}}x{{qty}};{{/each}}|{{#if memory.count}}yes{{else}}no{{/if}}')],
    });
    expect(decide(definition, eventContext()).actions).toEqual([reply('[{"sku":"A1","qty":2}]|A1x2;|yes')]);
  });

  it('given nested data, body and value, when deciding, then every string inside is rendered and other values are kept', () => {
    const definition = engine({
      then: [
        {
          action: 'emit-event',
          eventType: 'order.{{entity.state.status}}.noted',
          subject: '{{event.subject}}',
          data: { order: '{{event.subject}}', total: 7, flags: [true, null, '{{event.extensions.region}}'], nested: { who: '{{entity.state.customer.name}}' } },
        },
        { action: 'call-webhook', url: 'https://hooks.example/{{event.subject}}', method: 'PUT', body: { text: 'Paid: {{event.data.total}}' } },
        { action: 'remember', key: 'last-{{event.type}}', value: { subject: '{{event.subject}}', seen: 3 } },
        { action: 'send-message', to: 'agent-{{memory.count}}', content: 'Look at {{event.subject}}' },
      ],
    });
    expect(decide(definition, eventContext()).actions).toEqual([
      {
        action: 'emit-event',
        eventType: 'order.paid.noted',
        subject: 'order-1',
        data: { order: 'order-1', total: 7, flags: [true, null, 'eu'], nested: { who: 'Ada' } },
      },
      { action: 'call-webhook', url: 'https://hooks.example/order-1', method: 'PUT', body: { text: 'Paid: 150' } },
      { action: 'remember', key: 'last-order.paid', value: { subject: 'order-1', seen: 3 } },
      { action: 'send-message', to: 'agent-2', content: 'Look at order-1' },
    ]);
  });

  it('given a propose action, when deciding, then the wrapped direct action and the reason are rendered', () => {
    const definition = engine({
      then: [
        {
          action: 'propose',
          proposed: { action: 'call-webhook', url: 'https://refunds.example/{{event.subject}}', body: { amount: '{{event.data.total}}' } },
          reason: 'Refund {{event.data.total}} to {{entity.state.customer.name}}?',
        },
      ],
    });
    expect(decide(definition, eventContext()).actions).toEqual([
      {
        action: 'propose',
        proposed: { action: 'call-webhook', url: 'https://refunds.example/order-1', body: { amount: '150' } },
        reason: 'Refund 150 to Ada?',
      },
    ]);
  });

  it('given a "__proto__" key in action data, when rendered, then it stays an own data key and pollutes nothing', () => {
    const data = JSON.parse('{"__proto__": {"polluted": "{{event.subject}}"}, "ok": 1}') as unknown;
    const [action] = decide(engine({ then: [{ action: 'emit-event', eventType: 'x', data }] }), eventContext()).actions;
    expect(action).toMatchObject({ action: 'emit-event' });
    const rendered = (action as { data: Record<string, unknown> }).data;
    expect(Object.getPrototypeOf(rendered)).toBe(Object.prototype);
    expect(JSON.stringify(rendered)).toBe('{"__proto__":{"polluted":"order-1"},"ok":1}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('rules engine: prototype access safety', () => {
  it.each([
    '{{constructor.constructor}}',
    '{{constructor}}',
    '{{event.constructor.constructor}}',
    '{{event.data.constructor.name}}',
    '{{__proto__}}',
    '{{event.__proto__.toString}}',
    '{{toString}}',
    '{{#with event}}{{constructor.constructor}}{{/with}}',
    '{{lookup event "constructor"}}',
    '{{lookup (lookup event "constructor") "constructor"}}',
  ])('given the template %s, when rendered, then it renders nothing and logs nothing', (template) => {
    const consoleSpies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((method) =>
      jest.spyOn(console, method).mockImplementation(() => undefined),
    );
    try {
      expect(decide(engine({ then: [reply(`[${template}]`)] }), eventContext()).actions).toEqual([reply('[]')]);
      for (const spy of consoleSpies) expect(spy).not.toHaveBeenCalled();
    } finally {
      for (const spy of consoleSpies) spy.mockRestore();
    }
  });

  it('given a condition reading a prototype path, when compiled, then the definition is rejected', () => {
    const definition = engine({ when: { '==': [{ var: 'event.constructor.name' }, 'Object'] }, then: [reply('x')] });
    expect(checkRulesEngine(definition)).toEqual([{ path: 'engine.rules[0].when.==[0].var', message: 'may not read "constructor"' }]);
  });
});

describe('rules engine: invalid definitions', () => {
  it('given invalid templates and conditions, when checked, then every problem is listed with its path', () => {
    const definition = engine(
      { when: { nope: [1] }, then: [reply('{{#if}}')] },
      { then: [{ action: 'propose', proposed: { action: 'send-message', to: '{{log "x"}}', content: 'ok' } }] },
      { then: [{ action: 'emit-event', eventType: 'x', data: { a: ['{{> partial}}'] } }] },
      { then: [reply('{{shout event.subject}}')] },
    );
    const issues = checkRulesEngine(definition);
    expect(issues.map((issue) => issue.path)).toEqual([
      'engine.rules[0].when.nope',
      'engine.rules[0].then[0].text',
      'engine.rules[1].then[0].proposed.to',
      'engine.rules[2].then[0].data.a[0]',
      'engine.rules[3].then[0].text',
    ]);
    expect(issues[2].message).toContain('unknown helper log');
    expect(issues[4].message).toContain('unknown helper shout');
  });

  it('given an invalid definition, when deciding, then a RULES_ENGINE_INVALID domain error lists the problems', () => {
    const definition = engine({ then: [reply('{{#if}}')] });
    const error = thrownBy(() => decide(definition, eventContext()));
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: 'RULES_ENGINE_INVALID', details: { errors: [{ path: 'engine.rules[0].then[0].text' }] } });
    expect(thrownBy(() => decide(definition, eventContext()))).toBe(error);
  });

  it('given a template whose helper fails at render time, when deciding, then a RULE_TEMPLATE_FAILED domain error names the field', () => {
    const wrongArity = engine({ then: [reply('{{json memory event}}')] });
    expect(() => compileRulesEngine(wrongArity)).toThrow(/json takes exactly one value/);
    const renderFailure = engine({ then: [reply('{{#with memory}}{{json}}{{/with}}')] });
    expect(checkRulesEngine(renderFailure)).toEqual([]);
    const error = thrownBy(() => decide(renderFailure, eventContext()));
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({
      code: 'RULE_TEMPLATE_FAILED',
      details: { path: 'engine.rules[0].then[0].text', ruleIndex: 0, actionIndex: 0 },
    });
  });
});

describe('rules engine: determinism and caching', () => {
  const definition = engine(
    { name: 'note', when: { '>': [{ var: 'event.data.total' }, 100] }, then: [{ action: 'remember', key: 'big', value: { at: '{{event.time}}', total: '{{event.data.total}}' } }] },
    { then: [{ action: 'emit-event', eventType: 'seen', data: { z: '{{event.subject}}', a: ['{{agent.id}}', 1] } }] },
  );

  it('given the same definition and context, when deciding repeatedly and from a fresh compilation, then the output is byte-identical', () => {
    const first = JSON.stringify(decide(definition, eventContext(), { trace: true }));
    const again = JSON.stringify(decide(definition, eventContext(), { trace: true }));
    const copy = JSON.parse(JSON.stringify(definition)) as RulesEngine;
    const fresh = JSON.stringify(decide(copy, eventContext(), { trace: true }));
    const compiled = JSON.stringify(compileRulesEngine(definition).decide(eventContext(), { trace: true }));
    expect(again).toBe(first);
    expect(fresh).toBe(first);
    expect(compiled).toBe(first);
  });

  it('given a cached definition, when deciding with different contexts, then each output reflects its own context', () => {
    const small = eventContext({ event: { ...eventContext().event!, subject: 'order-2', data: { total: 5 } } });
    expect(decide(definition, eventContext()).actions).toHaveLength(2);
    expect(decide(definition, small).actions).toEqual([{ action: 'emit-event', eventType: 'seen', data: { z: 'order-2', a: ['agent-1', 1] } }]);
  });

  it('given rendered actions, when the caller mutates them, then later decisions are unaffected', () => {
    const out = decide(definition, eventContext());
    (out.actions[1] as { data: { a: unknown[] } }).data.a.push('mutated');
    expect(decide(definition, eventContext()).actions[1]).toEqual({ action: 'emit-event', eventType: 'seen', data: { z: 'order-1', a: ['agent-1', 1] } });
  });
});
