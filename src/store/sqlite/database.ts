import Database from 'libsql';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export type SqliteDatabase = InstanceType<typeof Database>;

/**
 * Opens (creating if needed) the embedded database `orders.db` under `dataDir`, in WAL mode so readers
 * never block the writer, with a busy timeout so a second process (an import beside `npm start`) waits
 * for the write lock instead of failing. `:memory:` opens a private in-memory database.
 */
export function openDatabase(dataDir: string): SqliteDatabase {
  const path = dataDir === ':memory:' ? ':memory:' : join(dataDir, 'orders.db');
  if (dataDir !== ':memory:') mkdirSync(dataDir, { recursive: true });
  const db = new Database(path, { timeout: 10_000 });
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = NORMAL');
  db.exec('PRAGMA busy_timeout = 10000');
  return db;
}
