import { CloudEventError, type CloudEventErrorCode } from '../cloud-events';
import { decodeKafkaCloudEvents, kafkaTraceparent, type KafkaCloudEventMessage, type KafkaHeaderValue } from './cloud-event-kafka.binding';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

const event = {
  specversion: '1.0',
  id: 'ord-1',
  source: 'urn:shop:orders',
  type: 'order.placed',
  subject: 'order-7',
  time: '2024-05-01T12:00:00Z',
  datacontenttype: 'application/json',
  data: { total: 12.5, lines: [{ sku: 'A', qty: 2 }] },
};

function message(value: string | Buffer | null, headers: Record<string, KafkaHeaderValue> = {}, key: string | null = null): KafkaCloudEventMessage {
  return { key: key === null ? null : Buffer.from(key), value: typeof value === 'string' ? Buffer.from(value) : value, headers };
}

const structured = (value: unknown, headers: Record<string, KafkaHeaderValue> = {}) =>
  message(JSON.stringify(value), { 'content-type': 'application/cloudevents+json', ...headers });

const binaryHeaders = {
  ce_specversion: '1.0',
  ce_id: 'ord-2',
  ce_source: 'urn:shop:orders',
  ce_type: 'order.shipped',
  ce_subject: 'order-7',
  ce_time: '2024-05-01T14:30:00+02:00',
};

function failure(msg: KafkaCloudEventMessage): CloudEventError {
  try {
    decodeKafkaCloudEvents(msg);
  } catch (error) {
    if (error instanceof CloudEventError) return error;
    throw error;
  }
  throw new Error('expected the message to be refused');
}

function expectRefused(msg: KafkaCloudEventMessage, code: CloudEventErrorCode, detail: string | RegExp): CloudEventError {
  const error = failure(msg);
  expect(error.code).toBe(code);
  expect(error.detail).toMatch(detail);
  expect(error.message).toBe(error.detail);
  return error;
}

describe('decodeKafkaCloudEvents', () => {
  describe('structured mode (application/cloudevents+json)', () => {
    it('reads the value as one JSON event, normalised', () => {
      const decoded = decodeKafkaCloudEvents(structured({ ...event, region: 'eu', priority: 2, urgent: false }));

      expect(decoded).toEqual({
        mode: 'structured',
        events: [
          {
            specversion: '1.0',
            id: 'ord-1',
            source: 'urn:shop:orders',
            type: 'order.placed',
            subject: 'order-7',
            time: '2024-05-01T12:00:00.000Z',
            datacontenttype: 'application/json',
            data: { total: 12.5, lines: [{ sku: 'A', qty: 2 }] },
            extensions: { region: 'eu', priority: 2, urgent: false },
          },
        ],
      });
    });

    it('accepts parameters, any case, and the header as a Buffer or a one-element array', () => {
      for (const contentType of [
        'application/cloudevents+json; charset=UTF-8',
        'Application/CloudEvents+JSON',
        Buffer.from('application/cloudevents+json;charset=utf-8'),
        [Buffer.from('application/cloudevents+json')],
      ]) {
        const decoded = decodeKafkaCloudEvents(message(JSON.stringify(event), { 'Content-Type': contentType }));
        expect(decoded.mode).toBe('structured');
        expect(decoded.events.map((e) => e.id)).toEqual(['ord-1']);
      }
    });

    it('takes the event from the value, ignoring ce_ headers sent beside it', () => {
      const decoded = decodeKafkaCloudEvents(structured(event, { ce_id: 'other', ce_type: 'other.type' }));

      expect(decoded.events[0]).toMatchObject({ id: 'ord-1', type: 'order.placed' });
    });

    it('carries data_base64 as its base64 text', () => {
      const decoded = decodeKafkaCloudEvents(structured({ ...event, datacontenttype: 'application/octet-stream', data: undefined, data_base64: 'AAEC' }));

      expect(decoded.events[0].data).toBe('AAEC');
    });

    it('refuses an invalid event, naming every bad field', () => {
      const error = expectRefused(structured({ specversion: '1.0', source: 'urn:s', type: 't', time: 'yesterday' }), 'INVALID_CLOUD_EVENT', /\/id is required/);

      expect(error.detail).toMatch(/\/time/);
      expect(error.issues.map((i) => i.path).sort()).toEqual(['/id', '/time']);
    });

    it('refuses an array (that is a batch), a scalar, malformed JSON and an empty value', () => {
      expectRefused(structured([event]), 'INVALID_CLOUD_EVENT', /structured mode carries one event/);
      expectRefused(structured('order'), 'INVALID_CLOUD_EVENT', /must be a JSON object/);
      expectRefused(message('{"specversion":"1.0",', { 'content-type': 'application/cloudevents+json' }), 'MALFORMED_JSON', /not valid JSON/);
      expectRefused(message(Buffer.from([0x7b, 0xff, 0x7d]), { 'content-type': 'application/cloudevents+json' }), 'MALFORMED_JSON', /not UTF-8/);
      expectRefused(message(null, { 'content-type': 'application/cloudevents+json' }), 'MALFORMED_JSON', /empty/);
    });
  });

  describe('batched mode (application/cloudevents-batch+json)', () => {
    it('reads every event of the array, in order', () => {
      const decoded = decodeKafkaCloudEvents(message(JSON.stringify([event, { ...event, id: 'ord-9', subject: undefined }]), { 'content-type': 'application/cloudevents-batch+json' }));

      expect(decoded.mode).toBe('batched');
      expect(decoded.events.map((e) => [e.id, e.subject])).toEqual([
        ['ord-1', 'order-7'],
        ['ord-9', undefined],
      ]);
    });

    it('refuses the whole batch for one bad event, an empty batch, or a single object', () => {
      const headers = { 'content-type': 'application/cloudevents-batch+json' };
      const error = expectRefused(message(JSON.stringify([event, { ...event, id: '' }]), headers), 'INVALID_CLOUD_EVENT', /\/1\/id/);
      expect(error.issues.map((i) => i.path)).toEqual(['/1/id']);
      expectRefused(message('[]', headers), 'INVALID_CLOUD_EVENT', /at least one event/);
      expectRefused(message(JSON.stringify(event), headers), 'INVALID_CLOUD_EVENT', /JSON array/);
    });
  });

  it('refuses an event format it cannot read', () => {
    expectRefused(message('\x00\x01', { 'content-type': 'application/cloudevents+avro' }), 'UNSUPPORTED_CONTENT_TYPE', /application\/cloudevents\+avro/);
  });

  describe('binary mode (ce_ headers)', () => {
    it('reads attributes from ce_ headers, extensions from the others, content-type and JSON data from the value', () => {
      const decoded = decodeKafkaCloudEvents(
        message(JSON.stringify({ carrier: 'dhl' }), { ...binaryHeaders, ce_region: 'eu', ce_partitionkey: 'order-7', 'content-type': 'application/json; charset=utf-8' }, 'order-7'),
      );

      expect(decoded).toEqual({
        mode: 'binary',
        events: [
          {
            specversion: '1.0',
            id: 'ord-2',
            source: 'urn:shop:orders',
            type: 'order.shipped',
            subject: 'order-7',
            time: '2024-05-01T12:30:00.000Z',
            datacontenttype: 'application/json; charset=utf-8',
            data: { carrier: 'dhl' },
            extensions: { region: 'eu', partitionkey: 'order-7' },
          },
        ],
      });
    });

    it('reads header values given as Buffers, one-element arrays and repeats of one value, names in any case', () => {
      const decoded = decodeKafkaCloudEvents(
        message('{}', {
          ce_specversion: Buffer.from('1.0'),
          CE_ID: [Buffer.from('ord-3')],
          ce_source: ['urn:shop:orders', Buffer.from('urn:shop:orders')],
          Ce_Type: 'order.paid',
          ce_dataschema: 'https://example.com/schemas/paid.json',
          ce_region: undefined,
          ce_tier: [],
        }),
      );

      expect(decoded.events).toEqual([{ specversion: '1.0', id: 'ord-3', source: 'urn:shop:orders', type: 'order.paid', dataschema: 'https://example.com/schemas/paid.json', data: {} }]);
    });

    it('does not map the Kafka key to any attribute', () => {
      const { ce_subject: _subject, ...withoutSubject } = binaryHeaders;
      const decoded = decodeKafkaCloudEvents(message('{}', withoutSubject, 'order-7'));

      expect(decoded.events[0].subject).toBeUndefined();
      expect(decoded.events[0].extensions).toBeUndefined();
    });

    it.each([
      ['text/plain; charset=utf-8', Buffer.from('shipped ✓'), 'shipped ✓'],
      ['application/xml', Buffer.from('<shipped/>'), '<shipped/>'],
      ['application/octet-stream', Buffer.from([0, 1, 2, 255]), 'AAEC/w=='],
      ['application/vnd.shop.order+json', Buffer.from('[1,2]'), [1, 2]],
    ])('keeps %s data as its value', (contentType, value, data) => {
      const decoded = decodeKafkaCloudEvents(message(value, { ...binaryHeaders, 'content-type': contentType }));

      expect(decoded.events[0].data).toEqual(data);
      expect(decoded.events[0].datacontenttype).toBe(contentType);
    });

    it.each([
      ['JSON', '{"carrier":"dhl"}', { carrier: 'dhl' }],
      ['a JSON scalar', '42', 42],
      ['text that is not JSON', 'shipped today', 'shipped today'],
      ['bytes that are not UTF-8', Buffer.from([0xff, 0xfe, 0x00]), '//4A'],
    ])('without a content type keeps %s as data, with no datacontenttype', (_case, value, data) => {
      const decoded = decodeKafkaCloudEvents(message(value, binaryHeaders));

      expect(decoded.events[0].data).toEqual(data);
      expect('datacontenttype' in decoded.events[0]).toBe(false);
    });

    it('reads a tombstone (null value) or an empty value without content type as an event without data', () => {
      for (const value of [null, Buffer.alloc(0)]) {
        const decoded = decodeKafkaCloudEvents(message(value, binaryHeaders));
        expect(decoded.events).toHaveLength(1);
        expect('data' in decoded.events[0]).toBe(false);
      }
    });

    it('refuses data that is not what its content type declares', () => {
      expectRefused(message('{"carrier":', { ...binaryHeaders, 'content-type': 'application/json' }), 'MALFORMED_JSON', /the data \(content-type application\/json\)/);
      expectRefused(message('', { ...binaryHeaders, 'content-type': 'application/json' }), 'MALFORMED_JSON', /empty/);
      expectRefused(message(Buffer.from([0xc3, 0x28]), { ...binaryHeaders, 'content-type': 'text/plain' }), 'INVALID_CLOUD_EVENT', /the value is not UTF-8 text/);
    });

    it('refuses missing and invalid attributes, naming their headers', () => {
      const { ce_specversion: _v, ce_id: _i, ...rest } = binaryHeaders;
      const missing = expectRefused(message('{}', rest), 'INVALID_CLOUD_EVENT', /ce_specversion is required; ce_id is required|ce_id is required; ce_specversion is required/);
      expect(missing.issues.map((i) => i.path).sort()).toEqual(['/id', '/specversion']);

      expectRefused(message('{}', { ...binaryHeaders, ce_specversion: '0.3' }), 'INVALID_CLOUD_EVENT', /ce_specversion/);
      expectRefused(message('{}', { ...binaryHeaders, ce_time: 'at noon' }), 'INVALID_CLOUD_EVENT', /ce_time/);
      expectRefused(message('{}', { ...binaryHeaders, ce_partition_key: 'k' }), 'INVALID_CLOUD_EVENT', /ce_partition_key unknown field/);
    });

    it('refuses data and its media type sent as ce_ headers', () => {
      expectRefused(message(null, { ...binaryHeaders, ce_data: '{}' }), 'INVALID_CLOUD_EVENT', /ce_data must not be a header/);
      expectRefused(message(null, { ...binaryHeaders, ce_datacontenttype: 'application/json' }), 'INVALID_CLOUD_EVENT', /ce_datacontenttype must not be a header/);
    });

    it('refuses a header repeated with different values, and a header value that is not UTF-8', () => {
      expectRefused(message('{}', { ...binaryHeaders, ce_id: ['ord-2', 'ord-3'] }), 'INVALID_CLOUD_EVENT', /ce_id is sent 2 times with different values/);
      expectRefused(message('{}', { ...binaryHeaders, ce_ID: 'ord-3' }), 'INVALID_CLOUD_EVENT', /ce_id is sent 2 times/);
      expectRefused(message('{}', { ...binaryHeaders, ce_source: Buffer.from([0xff]) }), 'INVALID_CLOUD_EVENT', /ce_source is not a UTF-8 header value/);
      expectRefused(message('{}', { ...binaryHeaders, 'content-type': ['application/json', 'text/plain'] }), 'INVALID_CLOUD_EVENT', /content-type header is sent 2 times/);
    });
  });

  describe('a message without ce_ headers or a CloudEvents content type', () => {
    it('reads a JSON object as one structured event and a JSON array as a batch', () => {
      expect(decodeKafkaCloudEvents(message(JSON.stringify(event)))).toMatchObject({ mode: 'structured', events: [{ id: 'ord-1' }] });
      expect(decodeKafkaCloudEvents(message(JSON.stringify(event), { 'content-type': 'application/json' }))).toMatchObject({ mode: 'structured', events: [{ id: 'ord-1' }] });
      expect(decodeKafkaCloudEvents(message(JSON.stringify([event, { ...event, id: 'ord-5' }])))).toMatchObject({ mode: 'batched', events: [{ id: 'ord-1' }, { id: 'ord-5' }] });
    });

    it('refuses a value that is not JSON, a JSON scalar, or a JSON object that is no event', () => {
      expectRefused(message('order placed'), 'MALFORMED_JSON', /not valid JSON/);
      expectRefused(message('"order placed"'), 'INVALID_CLOUD_EVENT', /must be a JSON object/);
      const error = expectRefused(message('{"orderId":7}'), 'INVALID_CLOUD_EVENT', /\/specversion is required/);
      expect(error.issues.map((i) => i.path)).toEqual(expect.arrayContaining(['/orderId', '/id', '/source', '/type']));
    });

    it('refuses a tombstone as an empty message, whatever other headers it has', () => {
      expectRefused(message(null), 'EMPTY_MESSAGE', /no value/);
      expectRefused(message(null, { traceparent: TRACEPARENT }, 'order-7'), 'EMPTY_MESSAGE', /no value/);
      expectRefused(message(Buffer.alloc(0)), 'EMPTY_MESSAGE', /no value/);
      expectRefused(message(null, { 'content-type': 'application/json' }), 'EMPTY_MESSAGE', /no value/);
    });

    it('refuses any other content type', () => {
      expectRefused(message('order placed', { 'content-type': 'text/plain' }), 'UNSUPPORTED_CONTENT_TYPE', /text\/plain without ce_\* headers/);
    });
  });

  describe('traceparent', () => {
    it('is returned beside the events when the header is well-formed, in every mode', () => {
      expect(decodeKafkaCloudEvents(structured(event, { traceparent: TRACEPARENT })).traceparent).toBe(TRACEPARENT);
      expect(decodeKafkaCloudEvents(message('{}', { ...binaryHeaders, Traceparent: Buffer.from(` ${TRACEPARENT} `) })).traceparent).toBe(TRACEPARENT);
    });

    it('is left out when absent or malformed, without failing the message', () => {
      expect('traceparent' in decodeKafkaCloudEvents(structured(event))).toBe(false);
      for (const bad of [
        'not-a-trace',
        '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
        '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
        'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
        `${TRACEPARENT}-extra`,
        '00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01',
      ]) {
        const decoded = decodeKafkaCloudEvents(structured(event, { traceparent: bad }));
        expect(decoded.events).toHaveLength(1);
        expect(decoded.traceparent).toBeUndefined();
      }
    });

    it('admits a later version with fields after the flags', () => {
      const later = '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future';
      expect(kafkaTraceparent({ traceparent: later })).toBe(later);
      expect(kafkaTraceparent({ traceparent: [TRACEPARENT, 'other'] })).toBeUndefined();
      expect(kafkaTraceparent({})).toBeUndefined();
    });
  });
});
