import type Database from 'libsql';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** A libsql connection, with where it points: the file, or `:memory:#n` for a private in-memory database. */
export type SqliteDatabase = InstanceType<typeof Database> & { readonly location: string };

let memoryDatabases = 0;

/**
 * Opens (creating if needed) the embedded database `file` (default `orders.db`) under `dataDir`, in WAL mode so readers
 * never block the writer, with a busy timeout so a second process (an import beside `npm start`) waits
 * for the write lock instead of failing. `:memory:` opens a private in-memory database.
 */
export function openDatabase(dataDir: string, file = 'orders.db'): SqliteDatabase {
  const path = dataDir === ':memory:' ? ':memory:' : join(dataDir, file);
  if (dataDir !== ':memory:') mkdirSync(dataDir, { recursive: true });
  // Required here, not imported: libsql's native binary loads only when an embedded database is opened,
  // so an app package without it (built for Azure with EVENT_STORE=cosmos) still loads every module.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Libsql = require('libsql') as typeof Database;
  const db = new Libsql(path, { timeout: 10_000 });
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = NORMAL');
  db.exec('PRAGMA busy_timeout = 10000');
  const location = path === ':memory:' ? `:memory:#${++memoryDatabases}` : resolve(path);
  return Object.assign(db, { location });
}
