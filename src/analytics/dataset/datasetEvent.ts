import { OrderEvent } from '../../domain/events';
import { UnknownEventError, upcast } from '../../domain/upcasters';
import { RecordedEvent } from '../../ports/eventStore';

/**
 * One stored event as the training-set builder reads it: upcast to the current schema (src/domain/upcasters.ts),
 * its two times parsed once to epoch milliseconds, and whether it is imported history.
 */
export interface DatasetEvent {
  orderId: string;
  /** Stream version (1-based); only the relative order of an order's events matters to the builder. */
  version: number;
  /** The upcast domain event; `event.occurredAt` is the business time as stored (ISO 8601). */
  event: OrderEvent;
  /** Business time, epoch milliseconds. */
  occurredAtMs: number;
  /** When the store recorded the event's commit, epoch milliseconds. */
  recordedAtMs: number;
  /**
   * Imported history (`metadata.actor` starts with {@link importActorPrefix}): its `recordedAt` is the time of
   * the import, not when the fact became known, so {@link knownAtMs} uses its business time alone.
   */
  imported: boolean;
}

/**
 * The actor prefix an import writes into every event's metadata: `import:olist` (src/import/olist.ts,
 * `metadataFor`). Live writers record `user:<id>` or the acceptance's own actor, never this prefix.
 */
export const importActorPrefix = 'import:';

/**
 * When an event became known, epoch milliseconds: `max(occurredAt, recordedAt)` for live events (it is known at
 * t when `occurredAt ≤ t` and `recordedAt ≤ t`), `occurredAt` for imported history (whose `recordedAt` is the day
 * of the import: with it, no imported event would be known before that day and no training set could be built
 * from an import). This is the leakage rule of docs/analytics.md and docs/adr/0011-event-lake-is-a-change-feed-consumer.md.
 */
export const knownAtMs = (e: DatasetEvent): number =>
  e.imported ? e.occurredAtMs : Math.max(e.occurredAtMs, e.recordedAtMs);

/** What {@link toDatasetEvents} read: the events, and how many it skipped because this code does not know them. */
export interface DatasetEvents {
  events: DatasetEvent[];
  /** Events of an unknown type or a newer schema version (a newer writer): left out, counted. */
  unknown: number;
}

/**
 * Reads recorded events (from `EventStore.readFeed` through `eventsOfCommit`) into {@link DatasetEvent}s.
 * @throws RangeError when a time is not an ISO 8601 instant (the store writes only those)
 */
export function toDatasetEvents(records: Iterable<RecordedEvent>): DatasetEvents {
  const events: DatasetEvent[] = [];
  let unknown = 0;
  for (const r of records) {
    let event: OrderEvent;
    try {
      event = upcast(r.type, r.schemaVersion, r.data, r.occurredAt);
    } catch (err) {
      if (!(err instanceof UnknownEventError)) throw err;
      unknown++;
      continue;
    }
    events.push({
      orderId: r.orderId,
      version: r.version,
      event,
      occurredAtMs: parseInstant(r.occurredAt, 'occurredAt'),
      recordedAtMs: parseInstant(r.recordedAt, 'recordedAt'),
      imported: r.metadata?.actor?.startsWith(importActorPrefix) ?? false,
    });
  }
  return { events, unknown };
}

/** @throws RangeError when `text` is not a date-time Date.parse reads */
function parseInstant(text: string, field: string): number {
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new RangeError(`${field} ${JSON.stringify(text)} is not an ISO 8601 instant`);
  return ms;
}
