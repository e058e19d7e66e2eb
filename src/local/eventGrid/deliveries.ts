import { SqliteDatabase } from '../../adapters/sqlite/database';
import { placeholders, rowBatches } from './rowBatches';

/** One queued delivery of one event to one subscription. */
export interface Delivery {
  deliveryId: number;
  subscription: string;
  eventId: string;
  /**
   * What the topic keeps in order for each subscription: the event's `subject` (`orders/{orderId}`), so one
   * order's events; `null` (no subject) for an event that is ordered with nothing.
   */
  orderingKey: string | null;
  /** The event's CloudEvent `type`, kept beside it so the delivery log need not parse the event. */
  eventType: string;
  /**
   * The event as CloudEvents JSON text, read with the delivery when it is at most {@link inlineEventBytes}
   * (nearly every event); null for a larger one, read by itself when it is sent ({@link DeliveryQueue.event}).
   */
  event: string | null;
  /** Attempts made so far. */
  attempts: number;
  dueAt: number;
  expiresAt: number;
}

/** An accepted event to queue: its JSON text once, and its deliveries (one per matching subscription). */
export interface NewEvent {
  event: string;
  deliveries: Omit<Delivery, 'deliveryId' | 'attempts' | 'event'>[];
}

/**
 * Largest event read along with its delivery, in bytes: a subscription holds up to a few thousand read
 * deliveries in memory, and an event may be up to 1 MB.
 */
export const inlineEventBytes = 16_384;

/** What became of a delivery's attempt, for {@link DeliveryQueue.settle}. */
export type Settlement =
  | { deliveryId: number; subscription: string; kind: 'done' }
  | {
      deliveryId: number;
      subscription: string;
      kind: 'retry';
      attempts: number;
      dueAt: number;
      error: string;
    };

const schema = `
CREATE TABLE IF NOT EXISTS eventgrid_deliveries (
  delivery_id INTEGER PRIMARY KEY AUTOINCREMENT,
  subscription TEXT NOT NULL,
  event_id TEXT NOT NULL,
  event TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  due_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  last_error TEXT
);
CREATE TABLE IF NOT EXISTS eventgrid_events (
  event_row INTEGER PRIMARY KEY,
  event TEXT NOT NULL
);
`;
/** Added after the first release: a queue written before it gets the column, filled from the events. */
const orderingSchema = `
ALTER TABLE eventgrid_deliveries ADD COLUMN ordering_key TEXT;
UPDATE eventgrid_deliveries SET ordering_key = json_extract(event, '$.subject');
`;
/** Added with the delivery log: the event's type, filled from the events of a queue written before it. */
const eventTypeSchema = `
ALTER TABLE eventgrid_deliveries ADD COLUMN event_type TEXT;
UPDATE eventgrid_deliveries SET event_type = json_extract(event, '$.type');
`;
/**
 * Added when events came to be stored once for all their deliveries (in `eventgrid_events`, `event` then
 * empty): a delivery queued before keeps its event in its own row, and `event_row` null.
 */
const eventRowSchema = `ALTER TABLE eventgrid_deliveries ADD COLUMN event_row INTEGER;`;
/**
 * The two ways in: a subscription's first attempts in acceptance order (a cursor on `delivery_id`), and its
 * failed deliveries by the time their retry is due. Partial indexes, so each holds only its own rows: a
 * delivery moves from the first to the second with its first failure. The indexes of earlier versions (on
 * `due_at`, and on subscription, ordering key and id) served a query that scanned the queue on every look;
 * nothing reads them now, and each would cost every insert and delete.
 */
const indexes = `
DROP INDEX IF EXISTS eventgrid_deliveries_due;
DROP INDEX IF EXISTS eventgrid_deliveries_order;
CREATE INDEX IF NOT EXISTS eventgrid_deliveries_first
  ON eventgrid_deliveries (subscription, delivery_id) WHERE attempts = 0;
CREATE INDEX IF NOT EXISTS eventgrid_deliveries_retries
  ON eventgrid_deliveries (subscription, due_at, delivery_id) WHERE attempts > 0;
`;

const deliveryColumns = `d.delivery_id AS deliveryId, d.subscription, d.event_id AS eventId,
  d.ordering_key AS orderingKey, coalesce(d.event_type, '') AS eventType, d.attempts, d.due_at AS dueAt,
  d.expires_at AS expiresAt,
  CASE WHEN octet_length(coalesce(e.event, d.event)) <= ${inlineEventBytes} THEN coalesce(e.event, d.event) END
    AS event`;
const withEvents = `eventgrid_deliveries d LEFT JOIN eventgrid_events e ON e.event_row = d.event_row`;

/** The queue's reads (exported for the tests that check their query plans). */
export const queueReads = {
  /** Parameters: subscription, after delivery id, limit. */
  firstAttempts: `SELECT ${deliveryColumns} FROM ${withEvents}
    WHERE d.subscription = ? AND d.attempts = 0 AND d.delivery_id > ? ORDER BY d.delivery_id LIMIT ?`,
  /** Parameters: subscription, now, limit. */
  dueRetries: `SELECT ${deliveryColumns} FROM ${withEvents}
    WHERE d.subscription = ? AND d.attempts > 0 AND d.due_at <= ? ORDER BY d.due_at, d.delivery_id LIMIT ?`,
  /** Parameters: subscription, now. */
  nextRetryAfter: `SELECT due_at AS dueAt FROM eventgrid_deliveries
    WHERE subscription = ? AND attempts > 0 AND due_at > ? ORDER BY due_at LIMIT 1`,
  /** Parameter: delivery id. */
  event: `SELECT coalesce(e.event, d.event) AS event FROM ${withEvents} WHERE d.delivery_id = ?`,
};

/**
 * The local topic's durable delivery queue: accepting a publish inserts, in one transaction before the topic
 * answers 200, each event once and one delivery per matching subscription, so an accepted event survives a
 * crash and is delivered after a restart, as Event Grid's durable delivery promises. A delivery's row is deleted
 * when it is settled (delivered, dead-lettered or dropped), and its event with the last of its deliveries; a
 * failed delivery is updated with its attempts and the time of its retry.
 *
 * Every read is a range of an index, proportional to the rows it returns, whatever the queue holds:
 * {@link firstAttempts} reads a subscription's never-attempted deliveries after a cursor, {@link dueRetries}
 * its failed ones whose retry is due. The order rules (one order's first attempts one at a time) are the
 * topic's (./topic.ts), which reads each first attempt once. This connection is the queue's only writer, so
 * what it must count is counted once when the queue is opened, then kept in memory: the pending deliveries per
 * subscription, and per stored event the deliveries still to settle.
 */
export class DeliveryQueue {
  private readonly insert;
  private readonly settleMany;
  private readonly firstAfter;
  private readonly retriesDue;
  private readonly retryAfter;
  private readonly eventOf;
  private readonly counts = new Map<string, number>();
  /** Per stored event (`event_row`), its deliveries not yet deleted. */
  private readonly eventRefs = new Map<number, number>();
  private nextEventRow: number;

  constructor(db: SqliteDatabase) {
    db.exec(schema);
    const existing = db.prepare('PRAGMA table_info(eventgrid_deliveries)').all() as { name: string }[];
    if (!existing.some((c) => c.name === 'ordering_key')) db.exec(orderingSchema);
    if (!existing.some((c) => c.name === 'event_type')) db.exec(eventTypeSchema);
    if (!existing.some((c) => c.name === 'event_row')) db.exec(eventRowSchema);
    db.exec(indexes);
    const insertEvents = rowBatches<{ row: number; event: string }>(
      db,
      (n) => `INSERT INTO eventgrid_events (event_row, event) VALUES ${placeholders(n, 2)}`,
      (e, into) => into.push(e.row, e.event),
    );
    type Row = NewEvent['deliveries'][number] & { eventRow: number };
    const insertDeliveries = rowBatches<Row>(
      db,
      (n) =>
        `INSERT INTO eventgrid_deliveries
           (subscription, event_id, ordering_key, event_type, event, event_row, due_at, expires_at)
         VALUES ${placeholders(n, 8)}`,
      (r, into) =>
        into.push(
          r.subscription,
          r.eventId,
          r.orderingKey,
          r.eventType,
          '',
          r.eventRow,
          r.dueAt,
          r.expiresAt,
        ),
    );
    const removeDeliveries = rowBatches<number>(
      db,
      (n) =>
        `DELETE FROM eventgrid_deliveries WHERE delivery_id IN (${Array(n).fill('?').join(', ')})
         RETURNING subscription, event_row AS eventRow`,
      (id, into) => into.push(id),
      100,
    );
    const removeEvents = rowBatches<number>(
      db,
      (n) => `DELETE FROM eventgrid_events WHERE event_row IN (${Array(n).fill('?').join(', ')})`,
      (row, into) => into.push(row),
      100,
    );
    const reschedule = db.prepare(
      'UPDATE eventgrid_deliveries SET attempts = ?, due_at = ?, last_error = ? WHERE delivery_id = ?',
    );
    this.insert = db.transaction((events: { row: number; event: string }[], rows: Row[]) => {
      insertEvents.run(events);
      insertDeliveries.run(rows);
    });
    this.settleMany = db.transaction((settlements: Settlement[], withThem: () => void) => {
      const done: number[] = [];
      for (const s of settlements) {
        if (s.kind === 'retry') reschedule.run(s.attempts, s.dueAt, s.error, s.deliveryId);
        else done.push(s.deliveryId);
      }
      const removed = removeDeliveries.all<{ subscription: string; eventRow: number | null }>(done);
      // The events whose last deliveries these were go with them.
      const released = new Map<number, number>();
      for (const r of removed)
        if (r.eventRow !== null) released.set(r.eventRow, (released.get(r.eventRow) ?? 0) + 1);
      const unused = [...released]
        .filter(([row, n]) => (this.eventRefs.get(row) ?? 0) <= n)
        .map(([row]) => row);
      removeEvents.run(unused);
      withThem();
      return { removed, released };
    });
    this.firstAfter = db.prepare(queueReads.firstAttempts);
    this.retriesDue = db.prepare(queueReads.dueRetries);
    this.retryAfter = db.prepare(queueReads.nextRetryAfter);
    this.eventOf = db.prepare(queueReads.event);
    // The counts, once: the only reads of the whole queue.
    const bySubscription = db
      .prepare('SELECT subscription, count(*) AS n FROM eventgrid_deliveries GROUP BY subscription')
      .all() as { subscription: string; n: number }[];
    for (const r of bySubscription) this.counts.set(r.subscription, r.n);
    const byEvent = db
      .prepare(
        `SELECT event_row AS eventRow, count(*) AS n FROM eventgrid_deliveries
         WHERE event_row IS NOT NULL GROUP BY event_row`,
      )
      .all() as { eventRow: number; n: number }[];
    for (const r of byEvent) this.eventRefs.set(r.eventRow, r.n);
    const last = db.prepare('SELECT max(event_row) AS row FROM eventgrid_events').get() as {
      row: number | null;
    };
    this.nextEventRow = (last.row ?? 0) + 1;
  }

  private add(subscription: string, n: number): void {
    const count = (this.counts.get(subscription) ?? 0) + n;
    if (count > 0) this.counts.set(subscription, count);
    else this.counts.delete(subscription);
  }

  /** Queues the events (those with deliveries) and their deliveries, in one transaction. */
  enqueue(events: NewEvent[]): void {
    const stored: { row: number; event: string }[] = [];
    const rows: (NewEvent['deliveries'][number] & { eventRow: number })[] = [];
    let row = this.nextEventRow;
    for (const e of events) {
      if (!e.deliveries.length) continue;
      stored.push({ row, event: e.event });
      for (const d of e.deliveries) rows.push({ ...d, eventRow: row });
      row++;
    }
    if (!rows.length) return;
    this.insert(stored, rows);
    this.nextEventRow = row;
    for (const s of stored) this.eventRefs.set(s.row, 0);
    for (const r of rows) {
      this.add(r.subscription, 1);
      this.eventRefs.set(r.eventRow, this.eventRefs.get(r.eventRow)! + 1);
    }
  }

  /**
   * Up to `limit` deliveries of `subscription` never attempted, accepted after the delivery `afterId`, in
   * acceptance order. One range of an index: a cursor that moves on by the last id returned.
   */
  firstAttempts(subscription: string, afterId: number, limit: number): Delivery[] {
    return this.firstAfter.all(subscription, afterId, limit) as Delivery[];
  }

  /** Up to `limit` failed deliveries of `subscription` whose retry is due at `now`, the earliest due first. */
  dueRetries(subscription: string, now: number, limit: number): Delivery[] {
    return this.retriesDue.all(subscription, now, limit) as Delivery[];
  }

  /** When the next retry of `subscription` after `now` is due, or undefined when none is waiting. */
  nextRetryAfter(subscription: string, now: number): number | undefined {
    return (this.retryAfter.get(subscription, now) as { dueAt: number } | undefined)?.dueAt;
  }

  /** The CloudEvents JSON text of a queued delivery's event (undefined once it is settled): see {@link Delivery.event}. */
  event(deliveryId: number): string | undefined {
    return (this.eventOf.get(deliveryId) as { event: string } | undefined)?.event;
  }

  /**
   * Applies the outcomes of attempts in one transaction: `done` deletes the delivery (and its event with its
   * last delivery), `retry` records the attempts and the time of the next one; `withThem` runs in the same
   * transaction (the topic logs the attempts there). Nothing is applied when it throws.
   */
  settle(settlements: Settlement[], withThem: () => void = () => {}): void {
    if (!settlements.length) return;
    const { removed, released } = this.settleMany(settlements, withThem);
    for (const r of removed) this.add(r.subscription, -1);
    for (const [row, n] of released) {
      const left = (this.eventRefs.get(row) ?? 0) - n;
      if (left > 0) this.eventRefs.set(row, left);
      else this.eventRefs.delete(row);
    }
  }

  /** Deliveries queued: not yet attempted, waiting for a retry, or in flight. */
  pending(): number {
    let n = 0;
    for (const count of this.counts.values()) n += count;
    return n;
  }

  /**
   * Deliveries still queued (not yet attempted, waiting for a retry, or in flight), by subscription; a
   * subscription with none is absent.
   */
  pendingBySubscription(): Map<string, number> {
    return new Map(this.counts);
  }

  /** Events stored for deliveries still queued. */
  storedEvents(): number {
    return this.eventRefs.size;
  }
}
