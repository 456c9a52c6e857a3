import { CloudEventError } from './cloud-event.error';
import { parseCloudEvent, parseCloudEventBatch } from './cloud-event.validation';

const minimal = { specversion: '1.0', id: 'e-1', source: 'urn:test:orders', type: 'order.placed' };

function failure(fn: () => unknown): CloudEventError {
  try {
    fn();
  } catch (error) {
    if (error instanceof CloudEventError) return error;
    throw error;
  }
  throw new Error('expected a CloudEventError');
}

describe('parseCloudEvent', () => {
  it('normalises time to UTC, gathers extensions and keeps the other attributes', () => {
    const event = parseCloudEvent({
      ...minimal,
      subject: 'order-7',
      time: '2024-05-01T12:00:00+02:00',
      datacontenttype: 'application/json',
      dataschema: 'https://example.com/order.json',
      data: { total: 12 },
      region: 'eu',
      priority: 3,
      urgent: true,
    });

    expect(event).toEqual({
      specversion: '1.0',
      id: 'e-1',
      source: 'urn:test:orders',
      type: 'order.placed',
      subject: 'order-7',
      time: '2024-05-01T10:00:00.000Z',
      datacontenttype: 'application/json',
      dataschema: 'https://example.com/order.json',
      data: { total: 12 },
      extensions: { region: 'eu', priority: 3, urgent: true },
    });
  });

  it('carries data_base64 as data and leaves absent attributes absent', () => {
    expect(parseCloudEvent({ ...minimal, data_base64: 'AAEC' })).toEqual({ ...minimal, data: 'AAEC' });
    expect(parseCloudEvent(minimal)).toEqual(minimal);
  });

  it.each([
    ['a missing id', { specversion: '1.0', source: 's', type: 't' }, '/id'],
    ['a wrong specversion', { ...minimal, specversion: '0.3' }, '/specversion'],
    ['an unknown field', { ...minimal, Bogus_Field: 1 }, '/Bogus_Field'],
    ['an unparseable time', { ...minimal, time: 'yesterday' }, '/time'],
    ['a leap-second time', { ...minimal, time: '2016-12-31T23:59:60Z' }, '/time'],
    ['data with data_base64', { ...minimal, data: 1, data_base64: 'AA==' }, '/data_base64'],
  ])('rejects %s with INVALID_CLOUD_EVENT naming the field', (_case, value, path) => {
    const error = failure(() => parseCloudEvent(value));

    expect(error.code).toBe('INVALID_CLOUD_EVENT');
    expect(error.issues.map((i) => i.path)).toContain(path);
    expect(error.detail).toContain(path);
  });

  it('puts the prefix before every issue path', () => {
    const error = failure(() => parseCloudEvent({ specversion: '1.0', type: 't' }, '/4'));

    expect(error.issues.map((i) => i.path).sort()).toEqual(['/4/id', '/4/source']);
  });
});

describe('parseCloudEventBatch', () => {
  it('returns every event in order', () => {
    expect(parseCloudEventBatch([minimal, { ...minimal, id: 'e-2' }]).map((e) => e.id)).toEqual(['e-1', 'e-2']);
  });

  it('reports the issues of every bad event under its index', () => {
    const error = failure(() => parseCloudEventBatch([{ ...minimal, id: '' }, minimal, { ...minimal, time: 'soon' }]));

    expect(error.code).toBe('INVALID_CLOUD_EVENT');
    expect(error.issues.map((i) => i.path)).toEqual(['/0/id', '/2/time']);
  });

  it('rejects an empty batch', () => {
    const error = failure(() => parseCloudEventBatch([]));

    expect(error.code).toBe('INVALID_CLOUD_EVENT');
    expect(error.issues).toEqual([{ path: '', message: 'a batch needs at least one event' }]);
  });
});
