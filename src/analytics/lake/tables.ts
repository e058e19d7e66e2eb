import { z } from 'zod';
import { currentSchemaVersion, eventDataSchemas, EventType, eventTypes } from '../../domain/events';

/**
 * The tables of the event lake and their columns, independent of any Parquet library: the Parquet encoder
 * (src/ports/eventLake.ts `ParquetEncoder`) turns each {@link ColumnKind} into a Parquet physical and logical
 * type (Parquet format spec, LogicalTypes.md: https://github.com/apache/parquet-format/blob/master/LogicalTypes.md).
 *
 * - `events`: one row per committed event, every type, `data` as JSON text.
 * - `types/<EventType>`: one table per event type, the envelope columns plus the event's `data` fields as typed
 *   columns (the fields of its current zod schema in src/domain/events.ts).
 */

/**
 * What a column holds, as the encoder must write it:
 * - `string`: UTF-8 text (Parquet BYTE_ARRAY, logical STRING);
 * - `int32`, `int64`: signed integers (INT32 / INT64); values are JS numbers;
 * - `timestamp`: an instant, UTC-adjusted (INT64, logical TIMESTAMP(isAdjustedToUTC=true, MILLIS)); values are
 *   epoch milliseconds;
 * - `decimal`: an exact decimal (logical DECIMAL(precision, scale)); values are the unscaled `bigint`
 *   (`"199.00"` at scale 6 → 199000000n);
 * - `json`: JSON text (BYTE_ARRAY, logical JSON); values are the JSON string.
 */
export type ColumnKind = 'string' | 'int32' | 'int64' | 'timestamp' | 'decimal' | 'json';

export interface Column {
  name: string;
  kind: ColumnKind;
  /** May hold null (Parquet OPTIONAL); otherwise REQUIRED. */
  nullable: boolean;
  /** For `decimal`: total digits and digits after the point. */
  precision?: number;
  scale?: number;
}

export interface LakeTable {
  /** The folder of the table under the lake root: `events` or `types/<EventType>`. */
  name: string;
  columns: Column[];
}

/**
 * Money in the lake: DECIMAL(22, 6). Amounts in events are at most 16 integer and 6 fraction digits (the
 * `Amount` rule of src/domain/events.ts and src/domain/money.ts), so every amount fits exactly whatever its
 * currency's minor unit.
 */
export const moneyPrecision = 22;
export const moneyScale = 6;

const column = (name: string, kind: ColumnKind, nullable = false): Column => ({ name, kind, nullable });

/** The envelope columns every table starts with, in this order. */
const envelope: Column[] = [
  column('orderId', 'string'),
  column('version', 'int64'),
  column('type', 'string'),
  column('schemaVersion', 'int32'),
  column('storedSchemaVersion', 'int32'),
  column('occurredAt', 'timestamp'),
  column('recordedAt', 'timestamp'),
  column('correlationId', 'string', true),
  column('causationId', 'string', true),
  column('traceparent', 'string', true),
  column('actor', 'string', true),
];

/** The `events` table: the envelope and `data` as JSON. */
export const eventsTable: LakeTable = { name: 'events', columns: [...envelope, column('data', 'json')] };

/** Samples that tell what kind of text a string field holds, by what its zod schema accepts. */
const accepts = (schema: z.ZodType, value: string): boolean => schema.safeParse(value).success;

/**
 * The column kind of one field of an event's data, from its zod schema: integers → int64, other numbers are
 * not in the catalogue (refused, so a new one is mapped on purpose); a string that accepts decimals such as
 * `"199.00"` and refuses words is money → decimal; one that accepts an ISO 8601 instant and refuses words and
 * decimals is a time → timestamp; any other string → string.
 * @throws TypeError for a field whose schema is none of those (an object, an array, a float)
 */
function kindOfField(
  type: string,
  field: string,
  schema: z.ZodType,
): { kind: ColumnKind; nullable: boolean } {
  let inner = schema;
  let nullable = false;
  while (inner instanceof z.ZodOptional || inner instanceof z.ZodNullable) {
    nullable = true;
    inner = inner.unwrap() as z.ZodType;
  }
  if (inner instanceof z.ZodNumber) {
    if (inner.format === 'safeint' || inner.format === 'int32') return { kind: 'int64', nullable };
    throw new TypeError(`${type}.${field}: a non-integer number has no lake column kind yet`);
  }
  if (inner instanceof z.ZodString) {
    if (accepts(inner, '199.00') && !accepts(inner, 'abc')) return { kind: 'decimal', nullable };
    if (accepts(inner, '2020-01-01T00:00:00Z') && !accepts(inner, 'abc') && !accepts(inner, '1.5')) {
      return { kind: 'timestamp', nullable };
    }
    return { kind: 'string', nullable };
  }
  throw new TypeError(`${type}.${field}: only strings and integers have a lake column kind`);
}

const dataColumnsCache = new Map<EventType, Column[]>();

/** The data columns of one event type, in the order of its zod schema. @throws TypeError as kindOfField */
export function dataColumns(type: EventType): Column[] {
  let columns = dataColumnsCache.get(type);
  if (!columns) dataColumnsCache.set(type, (columns = dataColumnsOf(type)));
  return columns;
}

function dataColumnsOf(type: EventType): Column[] {
  const shape = (eventDataSchemas[type] as z.ZodObject).shape as Record<string, z.ZodType>;
  return Object.keys(shape).map((field) => {
    const { kind, nullable } = kindOfField(type, field, shape[field]);
    return kind === 'decimal'
      ? { name: field, kind, nullable, precision: moneyPrecision, scale: moneyScale }
      : { name: field, kind, nullable };
  });
}

/** The table of one event type: the envelope and its data fields. @throws TypeError as {@link dataColumns} */
export function typeTable(type: EventType): LakeTable {
  const data = dataColumns(type);
  const clash = data.find((c) => envelope.some((e) => e.name === c.name));
  if (clash) throw new TypeError(`${type}.${clash.name} has the name of an envelope column`);
  return { name: `types/${type}`, columns: [...envelope, ...data] };
}

/** Every table of the lake, `events` first, then one per event type of the catalogue. */
export const lakeTables: readonly LakeTable[] = [eventsTable, ...eventTypes.map(typeTable)];

/** The current schema version of each type, as the tables' `schemaVersion` holds it after upcasting. */
export { currentSchemaVersion };
