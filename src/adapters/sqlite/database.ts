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

/** How long {@link writeTransaction} waits for the write lock before it waits the blocking way, in ms. */
const lockWaitMs = 10_000;
/** Longest pause between two tries for the write lock, in ms. */
const longestPauseMs = 8;

const isBusy = (err: unknown) =>
  typeof (err as { code?: unknown } | null)?.code === 'string' &&
  (err as { code: string }).code.startsWith('SQLITE_BUSY');

/** Takes the write lock now if it is free (`BEGIN IMMEDIATE` without SQLite's busy wait); false if another connection holds it. */
function tryBegin(db: SqliteDatabase): boolean {
  db.exec('PRAGMA busy_timeout = 0');
  try {
    db.exec('BEGIN IMMEDIATE');
    return true;
  } catch (err) {
    if (isBusy(err)) return false;
    throw err;
  } finally {
    db.exec('PRAGMA busy_timeout = 10000');
  }
}

/**
 * Runs `write` (synchronous statements on `db`) in one write transaction and resolves with its result, waiting
 * for the write lock without blocking the thread: SQLite has one writer per database file, and its own busy wait
 * sleeps inside the call, which would hold the event loop (the HTTP answers) while another connection (the host's
 * pipeline thread, an import beside the host) writes. Here the lock is tried, and tried again after a timer
 * (1 ms, doubling to 8 ms), the thread free in between. Past 10 s it waits the blocking way, as a plain
 * statement does, and fails as that does (SQLITE_BUSY).
 * The lock is held only while `write` runs, with no `await` inside, so nothing else on this connection runs in
 * the transaction. `write` throwing rolls the transaction back and rejects with its error.
 */
export async function writeTransaction<T>(db: SqliteDatabase, write: () => T): Promise<T> {
  const deadline = Date.now() + lockWaitMs;
  let pause = 1;
  while (!tryBegin(db)) {
    if (Date.now() > deadline) {
      db.exec('BEGIN IMMEDIATE');
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, pause));
    pause = Math.min(pause * 2, longestPauseMs);
  }
  try {
    const result = write();
    db.exec('COMMIT');
    return result;
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw err;
  }
}
