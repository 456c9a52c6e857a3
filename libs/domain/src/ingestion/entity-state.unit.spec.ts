import { evolveEntityState, mergeState } from './entity-state';

describe('entity state fold', () => {
  it('given events, when folded, then later values win, nested objects merge and null deletes', () => {
    let state = evolveEntityState(null, 'order-1', { type: 'order.placed', data: { status: 'placed', customer: { id: 'c1', tier: 'gold' }, note: 'x' }, time: 't1' });
    state = evolveEntityState(state, 'order-1', { type: 'order.shipped', data: { status: 'shipped', customer: { tier: 'platinum' }, note: null }, time: 't2' });
    expect(state).toEqual({
      subject: 'order-1',
      state: { status: 'shipped', customer: { id: 'c1', tier: 'platinum' } },
      eventCount: 2,
      firstSeen: 't1',
      lastSeen: 't2',
      lastEventType: 'order.shipped',
      typeCounts: { 'order.placed': 1, 'order.shipped': 1 },
    });
  });

  it('given a non-object payload, when folded, then the state is kept and the event is counted', () => {
    const state = evolveEntityState(evolveEntityState(null, 's', { type: 'a', data: { k: 1 }, time: 't1' }), 's', { type: 'b', data: 'text', time: 't2' });
    expect(state).toMatchObject({ state: { k: 1 }, eventCount: 2 });
  });

  it('given event types and keys named like Object.prototype members, when folded, then they are plain data', () => {
    let state = evolveEntityState(null, 's', { type: 'constructor', data: JSON.parse('{"__proto__": {"polluted": true}, "toString": 1}') as unknown, time: 't' });
    state = evolveEntityState(state, 's', { type: 'constructor', data: {}, time: 't' });
    state = evolveEntityState(state, 's', { type: 'toString', data: {}, time: 't' });
    expect(state.typeCounts).toEqual({ constructor: 2, toString: 1 });
    expect(Object.hasOwn(state.state, '__proto__')).toBe(true);
    expect(state.state.toString).toBe(1);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(mergeState({}, JSON.parse('{"__proto__": {"a": 1}}') as Record<string, unknown>)).toEqual(JSON.parse('{"__proto__": {"a": 1}}'));
  });
});
