import { SqliteDatabase } from '../../adapters/sqlite/database';

/** One pending delivery of one event to one subscription. */
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
  event: string;
  /** Attempts made so far. */
  attempts: number;
  dueAt: number;
  expiresAt: number;
}

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
CREATE INDEX IF NOT EXISTS eventgrid_deliveries_due ON eventgrid_deliveries (due_at);
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
const orderingIndex = `
CREATE INDEX IF NOT EXISTS eventgrid_deliveries_order
  ON eventgrid_deliveries (subscription, ordering_key, delivery_id);
`;

/**
 * The local topic's durable delivery queue: accepting a publish inserts one row per matching
 * subscription in one transaction before the topic answers 200, so an accepted event survives a crash
 * and is delivered after a restart, as Event Grid's durable delivery promises.
 *
 * Order: for one subscription, a first attempt is due only once every delivery of the same ordering key
 * (subject) accepted before it has been delivered, dead-lettered or has failed an attempt. So one order's
 * events reach a subscriber one at a time in the order they were published, unless a retry intervenes: a
 * delivery waiting for its retry is overtaken by the later ones, as Event Grid does not keep order.
 */
export class DeliveryQueue {
  private readonly insert;
  private readonly remove;
  private readonly reschedule;

  constructor(private readonly db: SqliteDatabase) {
    db.exec(schema);
    const columns = db.prepare('PRAGMA table_info(eventgrid_deliveries)').all() as { name: string }[];
    if (!columns.some((c) => c.name === 'ordering_key')) db.exec(orderingSchema);
    if (!columns.some((c) => c.name === 'event_type')) db.exec(eventTypeSchema);
    db.exec(orderingIndex);
    const stmt = db.prepare(
      'INSERT INTO eventgrid_deliveries (subscription, event_id, ordering_key, event_type, event, due_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.remove = db.prepare('DELETE FROM eventgrid_deliveries WHERE delivery_id = ?');
    this.reschedule = db.prepare(
      'UPDATE eventgrid_deliveries SET attempts = ?, due_at = ?, last_error = ? WHERE delivery_id = ?',
    );
    this.insert = db.transaction((rows: Omit<Delivery, 'deliveryId' | 'attempts'>[]) => {
      for (const r of rows)
        stmt.run(r.subscription, r.eventId, r.orderingKey, r.eventType, r.event, r.dueAt, r.expiresAt);
    });
  }

  enqueue(rows: Omit<Delivery, 'deliveryId' | 'attempts'>[]): void {
    if (rows.length) this.insert(rows);
  }

  /**
   * Due deliveries in due order, leaving out those in `exclude` and those of `busy` subscriptions, and
   * those that must wait for an earlier delivery of their ordering key to the same subscription: one
   * accepted before them that is in flight or not yet attempted (`attempts = 0`). Deliveries in `exclude`
   * (in flight) still hold up the later ones, since their rows are still in the queue.
   */
  due(now: number, limit: number, exclude: Set<number>, busy: string[] = []): Delivery[] {
    const notBusy = busy.length ? `AND d.subscription NOT IN (${busy.map(() => '?').join(', ')})` : '';
    const rows = this.db
      .prepare(
        `SELECT d.delivery_id AS deliveryId, d.subscription, d.event_id AS eventId, d.ordering_key AS orderingKey,
                coalesce(d.event_type, '') AS eventType, d.event, d.attempts, d.due_at AS dueAt, d.expires_at AS expiresAt
         FROM eventgrid_deliveries d
         WHERE d.due_at <= ? ${notBusy}
           AND NOT EXISTS (
             SELECT 1 FROM eventgrid_deliveries e
             WHERE e.subscription = d.subscription AND e.ordering_key = d.ordering_key
               AND e.delivery_id < d.delivery_id AND e.attempts = 0)
         ORDER BY d.due_at, d.delivery_id LIMIT ?`,
      )
      .all(now, ...busy, limit + exclude.size) as Delivery[];
    return rows.filter((r) => !exclude.has(r.deliveryId)).slice(0, limit);
  }

  done(deliveryId: number): void {
    this.remove.run(deliveryId);
  }

  retryLater(deliveryId: number, attempts: number, dueAt: number, error: string): void {
    this.reschedule.run(attempts, dueAt, error, deliveryId);
  }

  pending(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM eventgrid_deliveries').get() as { n: number }).n;
  }

  /**
   * Deliveries still queued (not yet attempted, waiting for a retry, or in flight), by subscription; a
   * subscription with none is absent.
   */
  pendingBySubscription(): Map<string, number> {
    const rows = this.db
      .prepare('SELECT subscription, count(*) AS n FROM eventgrid_deliveries GROUP BY subscription')
      .all() as { subscription: string; n: number }[];
    return new Map(rows.map((r) => [r.subscription, r.n]));
  }
}
