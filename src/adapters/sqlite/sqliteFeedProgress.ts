import { FeedProgress, FeedProgressStore } from '../../ports/feedProgress';
import { SqliteDatabase, writeTransaction } from './database';

const schema = `
CREATE TABLE IF NOT EXISTS feed_progress (
  consumer TEXT PRIMARY KEY,
  last_recorded_at TEXT NOT NULL,
  processed_at TEXT NOT NULL
);
`;

/** Change-feed progress in the embedded database (`feed_progress`, one row per consumer). */
export class SqliteFeedProgress implements FeedProgressStore {
  // Prepared once: every change-feed batch records its progress.
  private readonly upsert;

  constructor(private readonly db: SqliteDatabase) {
    db.exec(schema);
    this.upsert = db.prepare(
      `INSERT INTO feed_progress (consumer, last_recorded_at, processed_at) VALUES (?, ?, ?)
       ON CONFLICT(consumer) DO UPDATE SET last_recorded_at = excluded.last_recorded_at,
         processed_at = excluded.processed_at
       WHERE excluded.last_recorded_at >= feed_progress.last_recorded_at`,
    );
  }

  async record(consumer: string, lastRecordedAt: string): Promise<void> {
    await writeTransaction(this.db, () =>
      this.upsert.run(consumer, lastRecordedAt, new Date().toISOString()),
    );
  }

  async list(): Promise<FeedProgress[]> {
    const rows = this.db
      .prepare('SELECT consumer, last_recorded_at, processed_at FROM feed_progress ORDER BY consumer')
      .all() as { consumer: string; last_recorded_at: string; processed_at: string }[];
    return rows.map((r) => ({
      consumer: r.consumer,
      lastRecordedAt: r.last_recorded_at,
      processedAt: r.processed_at,
    }));
  }
}
