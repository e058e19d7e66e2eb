import { IdempotencyStore, pendingTtlMs, RecordedResponse, Reservation } from '../../ports/idempotency';
import { SqliteDatabase, writeTransaction } from './database';

const schema = `
CREATE TABLE IF NOT EXISTS idempotency_keys (
  key TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  reserved_at INTEGER NOT NULL,
  response TEXT
);
`;

/** Idempotency keys in the embedded database; reservation is one IMMEDIATE transaction. */
export class SqliteIdempotencyStore implements IdempotencyStore {
  private readonly reserveTx;

  constructor(private readonly db: SqliteDatabase) {
    db.exec(schema);
    const find = db.prepare('SELECT fingerprint, reserved_at, response FROM idempotency_keys WHERE key = ?');
    const upsert = db.prepare(
      `INSERT INTO idempotency_keys (key, fingerprint, reserved_at, response) VALUES (?, ?, ?, NULL)
       ON CONFLICT(key) DO UPDATE SET fingerprint = excluded.fingerprint, reserved_at = excluded.reserved_at, response = NULL`,
    );
    this.reserveTx = (key: string, fingerprint: string, now: number): Reservation => {
      const row = find.get(key) as
        { fingerprint: string; reserved_at: number; response: string | null } | undefined;
      if (row) {
        if (row.fingerprint !== fingerprint) return { outcome: 'mismatch' };
        if (row.response)
          return { outcome: 'replay', response: JSON.parse(row.response) as RecordedResponse };
        if (now - row.reserved_at < pendingTtlMs) return { outcome: 'in-progress' };
      }
      upsert.run(key, fingerprint, now);
      return { outcome: 'reserved' };
    };
  }

  async reserve(key: string, fingerprint: string): Promise<Reservation> {
    return writeTransaction(this.db, () => this.reserveTx(key, fingerprint, Date.now()));
  }

  async complete(key: string, response: RecordedResponse): Promise<void> {
    const update = this.db.prepare('UPDATE idempotency_keys SET response = ? WHERE key = ?');
    await writeTransaction(this.db, () => update.run(JSON.stringify(response), key));
  }

  async release(key: string): Promise<void> {
    const remove = this.db.prepare('DELETE FROM idempotency_keys WHERE key = ? AND response IS NULL');
    await writeTransaction(this.db, () => remove.run(key));
  }
}
