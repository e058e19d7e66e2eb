import { JourneyStore, OrderJourney } from '../../ports/journeyStore';
import { SqliteDatabase, writeTransaction } from './database';

const schema = `
CREATE TABLE IF NOT EXISTS order_journey (
  order_id TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  journey TEXT NOT NULL
);
`;

const pageSize = 1000;

/** Order journeys in the embedded database (`order_journey`, one row per order, the journey as JSON). */
export class SqliteJourneyStore implements JourneyStore {
  // Prepared once: the projection reads and writes a journey per order of every change-feed batch.
  private readonly journeyRow;
  private readonly upsert;

  constructor(private readonly db: SqliteDatabase) {
    db.exec(schema);
    this.journeyRow = db.prepare('SELECT journey FROM order_journey WHERE order_id = ?');
    this.upsert = db.prepare(
      `INSERT INTO order_journey (order_id, version, journey) VALUES (?, ?, ?)
       ON CONFLICT(order_id) DO UPDATE SET version = excluded.version, journey = excluded.journey
       WHERE excluded.version > order_journey.version`,
    );
  }

  async get(orderId: string): Promise<OrderJourney | undefined> {
    const row = this.journeyRow.get(orderId) as { journey: string } | undefined;
    return row && (JSON.parse(row.journey) as OrderJourney);
  }

  async put(journey: OrderJourney): Promise<void> {
    const json = JSON.stringify(journey);
    await writeTransaction(this.db, () => this.upsert.run(journey.orderId, journey.version, json));
  }

  /** Every journey, by order id, 1,000 rows per query (a writer is never blocked for the whole scan). */
  async *all(): AsyncIterable<OrderJourney> {
    let after = '';
    for (;;) {
      const rows = this.db
        .prepare('SELECT order_id, journey FROM order_journey WHERE order_id > ? ORDER BY order_id LIMIT ?')
        .all(after, pageSize) as { order_id: string; journey: string }[];
      for (const r of rows) yield JSON.parse(r.journey) as OrderJourney;
      if (rows.length < pageSize) return;
      after = rows[rows.length - 1].order_id;
    }
  }
}
