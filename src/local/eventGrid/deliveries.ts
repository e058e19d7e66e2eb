import { SqliteDatabase } from '../../adapters/sqlite/database';

/** One pending delivery of one event to one subscription. */
export interface Delivery {
  deliveryId: number;
  subscription: string;
  eventId: string;
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

/**
 * The local topic's durable delivery queue: accepting a publish inserts one row per matching
 * subscription in one transaction before the topic answers 200, so an accepted event survives a crash
 * and is delivered after a restart, as Event Grid's durable delivery promises.
 */
export class DeliveryQueue {
  private readonly insert;

  constructor(private readonly db: SqliteDatabase) {
    db.exec(schema);
    const stmt = db.prepare(
      'INSERT INTO eventgrid_deliveries (subscription, event_id, event, due_at, expires_at) VALUES (?, ?, ?, ?, ?)',
    );
    this.insert = db.transaction((rows: Omit<Delivery, 'deliveryId' | 'attempts'>[]) => {
      for (const r of rows) stmt.run(r.subscription, r.eventId, r.event, r.dueAt, r.expiresAt);
    });
  }

  enqueue(rows: Omit<Delivery, 'deliveryId' | 'attempts'>[]): void {
    if (rows.length) this.insert(rows);
  }

  /** Due deliveries in due order, leaving out those in `exclude` and those of `busy` subscriptions. */
  due(now: number, limit: number, exclude: Set<number>, busy: string[] = []): Delivery[] {
    const notBusy = busy.length ? `AND subscription NOT IN (${busy.map(() => '?').join(', ')})` : '';
    const rows = this.db
      .prepare(
        `SELECT delivery_id AS deliveryId, subscription, event_id AS eventId, event, attempts, due_at AS dueAt,
                expires_at AS expiresAt
         FROM eventgrid_deliveries WHERE due_at <= ? ${notBusy} ORDER BY due_at, delivery_id LIMIT ?`,
      )
      .all(now, ...busy, limit + exclude.size) as Delivery[];
    return rows.filter((r) => !exclude.has(r.deliveryId)).slice(0, limit);
  }

  done(deliveryId: number): void {
    this.db.prepare('DELETE FROM eventgrid_deliveries WHERE delivery_id = ?').run(deliveryId);
  }

  retryLater(deliveryId: number, attempts: number, dueAt: number, error: string): void {
    this.db
      .prepare(
        'UPDATE eventgrid_deliveries SET attempts = ?, due_at = ?, last_error = ? WHERE delivery_id = ?',
      )
      .run(attempts, dueAt, error, deliveryId);
  }

  pending(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM eventgrid_deliveries').get() as { n: number }).n;
  }
}
