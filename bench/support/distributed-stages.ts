import type { Client } from 'pg';
import { INGESTED_TYPE, REACTION_TYPE } from './distributed-load';

/**
 * Where an event's time goes, read back from the event store after a step: every event the
 * pipeline writes carries the time its insert ran (`recorded_at`, `statement_timestamp()` taken
 * once the append lock is held, a millisecond or so before the commit),
 * and each can be tied to the ingested event — the mailbox entry and the decision by
 * `data.input.ref`, the reaction by its correlation id. With the send time the event carries in
 * `data.sentAt` (the same machine's clock) that splits ingest → reaction into:
 *
 *   sent → stored      Kafka produce + inbound consumer + decode + group commit (the ingest path)
 *   stored → routed    event-store subscription → router (leader) → mailbox entry appended
 *   routed → decided   Kafka relay (store → <prefix>.mailbox) → mailbox consumer → worker queue → rules → decision appended
 *   decided → reacted  action run: `agent.action-executed` + the emitted event appended
 *
 * (reacted → visible on the WebSocket is measured by the client from the reaction's `recordedAt`.)
 */

export interface StagePercentiles {
  readonly stage: string;
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export interface StageBreakdown {
  readonly ingested: number;
  readonly routed: number;
  readonly decided: number;
  readonly reacted: number;
  /** Ingested events stored per second, first send → last stored. */
  readonly storedPerSecond: number;
  /** Reactions stored per second, first send → last reaction stored. */
  readonly reactedPerSecond: number;
  readonly firstSentAt: number;
  readonly lastStoredAt: number;
  readonly lastReactedAt: number;
  readonly stages: StagePercentiles[];
  /** Every event the step wrote (all types), and how long the query took. */
  readonly eventsWritten: number;
  readonly queryMs: number;
}

const STAGES = [
  ['sent → stored', 'stored - sent'],
  ['stored → routed', 'routed - stored'],
  ['routed → decided', 'decided - routed'],
  ['decided → reacted', 'reacted - decided'],
  ['sent → reacted (stored)', 'reacted - sent'],
] as const;

/** The breakdown of the events ingested after `afterPosition` (one step's: each step starts after the previous one drained). */
export async function stageBreakdown(pg: Client, schema: string, afterPosition: number, ingestedType: string = INGESTED_TYPE): Promise<StageBreakdown> {
  const started = performance.now();
  const t = `"${schema}".events`;
  const percentiles = STAGES.map(
    ([, expr], n) =>
      `count(${expr}) as c${n}, percentile_cont(0.5) within group (order by ${expr}) as p50_${n}, ` +
      `percentile_cont(0.99) within group (order by ${expr}) as p99_${n}, max(${expr}) as max_${n}`,
  ).join(',\n');
  const sql = `
    with ids as (select event_id, recorded_at, (data->>'sentAt')::float8 as sent from ${t} where position > $1 and type = $2),
    m as (select data->'input'->>'ref' as ref, min(recorded_at) as at from ${t} where position > $1 and type = 'mailbox.input-enqueued' group by 1),
    d as (select data->'input'->>'ref' as ref, min(recorded_at) as at from ${t} where position > $1 and type = 'agent.decision-recorded' group by 1),
    r as (select metadata->>'correlationId' as ref, min(recorded_at) as at from ${t} where position > $1 and type = $3 group by 1),
    j as (
      select ids.sent,
        extract(epoch from ids.recorded_at) * 1000 as stored,
        extract(epoch from m.at) * 1000 as routed,
        extract(epoch from d.at) * 1000 as decided,
        extract(epoch from r.at) * 1000 as reacted
      from ids
      left join m on m.ref = ids.event_id
      left join d on d.ref = ids.event_id
      left join r on r.ref = ids.event_id
    )
    select count(*) as ingested, count(routed) as routed, count(decided) as decided, count(reacted) as reacted,
      min(sent) as first_sent, max(stored) as last_stored, max(reacted) as last_reacted,
      (select count(*) from ${t} where position > $1) as written,
      ${percentiles}
    from j`;
  const { rows } = await pg.query<Record<string, string | number | null>>(sql, [afterPosition, ingestedType, REACTION_TYPE]);
  const row = rows[0] ?? {};
  const num = (key: string) => (row[key] === null || row[key] === undefined ? Number.NaN : Number(row[key]));
  const firstSentAt = num('first_sent');
  const lastStoredAt = num('last_stored');
  const lastReactedAt = num('last_reacted');
  return {
    ingested: num('ingested'),
    routed: num('routed'),
    decided: num('decided'),
    reacted: num('reacted'),
    storedPerSecond: (num('ingested') / Math.max(1, lastStoredAt - firstSentAt)) * 1000,
    reactedPerSecond: (num('reacted') / Math.max(1, lastReactedAt - firstSentAt)) * 1000,
    firstSentAt,
    lastStoredAt,
    lastReactedAt,
    stages: STAGES.map(([stage], n) => ({ stage, count: num(`c${n}`), p50: num(`p50_${n}`), p99: num(`p99_${n}`), max: num(`max_${n}`) })),
    eventsWritten: num('written'),
    queryMs: performance.now() - started,
  };
}

/** The store's head position (0 when empty). */
export async function headPosition(pg: Client, schema: string): Promise<number> {
  const { rows } = await pg.query<{ head: string | null }>(`select max(position) as head from "${schema}".events`);
  return Number(rows[0]?.head ?? 0);
}

/**
 * Ingested events stored after `afterPosition`, counted incrementally (for progress lines only:
 * a transaction committing a lower position later is missed; the breakdown counts exactly).
 */
export class StoredCounter {
  private position: number;
  total = 0;

  constructor(
    private readonly pg: Client,
    private readonly schema: string,
    afterPosition: number,
    private readonly type: string = INGESTED_TYPE,
  ) {
    this.position = afterPosition;
  }

  async poll(): Promise<number> {
    const { rows } = await this.pg.query<{ n: string; head: string | null }>(`select count(*) filter (where type = $2) as n, max(position) as head from "${this.schema}".events where position > $1`, [this.position, this.type]);
    this.total += Number(rows[0]?.n ?? 0);
    if (rows[0]?.head !== null && rows[0]?.head !== undefined) this.position = Number(rows[0].head);
    return this.total;
  }
}
