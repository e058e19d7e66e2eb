import { currentSchemaVersion, EventType } from '../../domain/events';
import { upcast } from '../../domain/upcasters';
import { CommitDocument, eventsOfCommit } from '../../ports/eventStore';
import { Column, dataColumns, moneyScale } from './tables';

/**
 * One committed event as the lake holds it, upcast to its type's current schema: the row of the `events` table
 * and, with its typed data fields, of its type's table. Times are epoch milliseconds (UTC).
 */
export interface LakeEvent {
  orderId: string;
  version: number;
  type: EventType;
  /** The current schema version of the type (the data is upcast to it). */
  schemaVersion: number;
  /** The schema version the event was stored with. */
  storedSchemaVersion: number;
  occurredAt: number;
  recordedAt: number;
  correlationId: string | null;
  causationId: string | null;
  traceparent: string | null;
  actor: string | null;
  /** The upcast data, as JSON text. */
  data: string;
  /** The business date of the partition, `YYYY-MM-DD` of `occurredAt` in UTC. */
  date: string;
}

/** A cell of a row, as {@link import('./tables').ColumnKind} describes it. */
export type Cell = string | number | bigint | null;

/** A row keyed by column name; a null-prototype record, so no column name can reach Object.prototype. */
export type LakeRow = Record<string, Cell>;

export class LakeMappingError extends Error {}

/**
 * Epoch milliseconds of an ISO 8601 instant.
 * @throws LakeMappingError when the text is not a date-time with a zone (Z or ±hh:mm)
 */
export function instantMs(text: string, what: string): number {
  const ms = /(?:Z|[+-]\d{2}:?\d{2})$/i.test(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(ms)) throw new LakeMappingError(`${what}: "${text}" is not an ISO 8601 instant`);
  return ms;
}

/** The partition date `YYYY-MM-DD` of an instant, in UTC. */
export const utcDate = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

const textOrNull = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/**
 * The events of commits as lake rows, upcast to their current schema (src/domain/upcasters.ts), in commit order.
 * Documents that are not commits (the Cosmos DB head document) are skipped.
 * @throws UnknownEventError (src/domain/upcasters.ts) for an event type or schema version this code does not
 * know: the batch must wait for code that knows it, so the consumer fails and the trigger retries
 * @throws LakeMappingError for a time that is not an ISO 8601 instant
 */
export function lakeEventsOf(documents: readonly unknown[]): LakeEvent[] {
  const out: LakeEvent[] = [];
  for (const doc of documents) {
    if (!isCommit(doc)) continue;
    for (const e of eventsOfCommit(doc)) {
      const current = upcast(e.type, e.schemaVersion, e.data, e.occurredAt);
      const occurredAt = instantMs(e.occurredAt, `${e.orderId} v${e.version} occurredAt`);
      const metadata = e.metadata ?? {};
      out.push({
        orderId: e.orderId,
        version: e.version,
        type: current.type,
        schemaVersion: currentSchemaVersion[current.type],
        storedSchemaVersion: e.schemaVersion,
        occurredAt,
        recordedAt: instantMs(e.recordedAt, `${e.orderId} v${e.version} recordedAt`),
        correlationId: textOrNull(metadata.correlationId),
        causationId: textOrNull(metadata.causationId),
        traceparent: textOrNull(metadata.traceparent),
        actor: textOrNull(metadata.actor),
        data: JSON.stringify(current.data),
        date: utcDate(occurredAt),
      });
    }
  }
  return out;
}

export const isCommit = (d: unknown): d is CommitDocument =>
  typeof d === 'object' &&
  d !== null &&
  (d as { kind?: unknown }).kind === 'commit' &&
  Array.isArray((d as { e?: unknown }).e);

/**
 * The unscaled integer of a non-negative decimal string at `scale` fraction digits (`"199.5"`, 6 →
 * 199500000n), exact for any length.
 * @throws LakeMappingError when the text is not a plain decimal or has more than `scale` fraction digits
 */
export function unscaledDecimal(text: string, scale = moneyScale): bigint {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m || (m[2] ?? '').replace(/0+$/, '').length > scale) {
    throw new LakeMappingError(`"${text}" is not a decimal with at most ${scale} fraction digits`);
  }
  return BigInt(m[1] + (m[2] ?? '').padEnd(scale, '0').slice(0, scale));
}

/** The envelope cells of an event's row (the columns every table starts with). */
function envelopeRow(e: LakeEvent): LakeRow {
  const row: LakeRow = Object.create(null) as LakeRow;
  row.orderId = e.orderId;
  row.version = e.version;
  row.type = e.type;
  row.schemaVersion = e.schemaVersion;
  row.storedSchemaVersion = e.storedSchemaVersion;
  row.occurredAt = e.occurredAt;
  row.recordedAt = e.recordedAt;
  row.correlationId = e.correlationId;
  row.causationId = e.causationId;
  row.traceparent = e.traceparent;
  row.actor = e.actor;
  return row;
}

/** The row of the `events` table. */
export function eventsRow(e: LakeEvent): LakeRow {
  const row = envelopeRow(e);
  row.data = e.data;
  return row;
}

/** One data field as the cell of its typed column. @throws LakeMappingError for a value of the wrong kind */
function dataCell(e: LakeEvent, c: Column, value: unknown): Cell {
  if (value === undefined || value === null) {
    if (c.nullable) return null;
    throw new LakeMappingError(`${e.orderId} v${e.version} ${e.type}.${c.name} is missing`);
  }
  const wrong = () =>
    new LakeMappingError(
      `${e.orderId} v${e.version} ${e.type}.${c.name} is not a ${c.kind}: ${String(value)}`,
    );
  switch (c.kind) {
    case 'decimal':
      if (typeof value !== 'string') throw wrong();
      return unscaledDecimal(value, c.scale);
    case 'timestamp':
      if (typeof value !== 'string') throw wrong();
      return instantMs(value, `${e.orderId} v${e.version} ${e.type}.${c.name}`);
    case 'int32':
    case 'int64':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw wrong();
      return value;
    default:
      if (typeof value !== 'string') throw wrong();
      return value;
  }
}

/**
 * The row of the event's own type table: the envelope and each data field of the type's current schema in its
 * typed column (money as the unscaled decimal, times as epoch milliseconds).
 * @throws LakeMappingError when a field does not hold what its column needs
 */
export function typeRow(e: LakeEvent): LakeRow {
  const row = envelopeRow(e);
  const data = JSON.parse(e.data) as Record<string, unknown>;
  for (const c of dataColumns(e.type)) {
    const value = Object.prototype.hasOwnProperty.call(data, c.name) ? data[c.name] : undefined;
    row[c.name] = dataCell(e, c, value);
  }
  return row;
}
