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
  setUpConnection(db);
  const location = path === ':memory:' ? `:memory:#${++memoryDatabases}` : resolve(path);
  return Object.assign(db, { location });
}

/**
 * Puts the connection in WAL mode. Switching a new file to WAL takes an exclusive lock, and SQLite answers
 * SQLITE_BUSY at once, without its busy wait, to one of two connections that would otherwise wait for each other
 * (one switching, one reading the schema of the still rollback-journal file: https://www.sqlite.org/c3ref/busy_handler.html),
 * as when the host's two threads or an import open a new data folder together. Tried again after 5 ms, for up to
 * 10 s; it happens only while the file is new, at start-up, so the thread sleeps.
 */
function setUpConnection(db: InstanceType<typeof Database>): void {
  const deadline = Date.now() + lockWaitMs;
  for (;;) {
    try {
      db.exec('PRAGMA journal_mode = WAL');
      db.exec('PRAGMA synchronous = NORMAL');
      db.exec('PRAGMA busy_timeout = 10000');
      return;
    } catch (err) {
      if (!isBusy(err) || Date.now() > deadline) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }
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
 * Locks shared by the threads of this process (see {@link shareWriteLocks}): per slot, two Int32s, the lock
 * (1 = held) and the writers waiting for it.
 */
let sharedLocks: Int32Array | undefined;
const sharedLockSlots = 16;

/**
 * Makes {@link writeTransaction} on every thread given the same `buffer` (created when absent; pass the result
 * to the other threads, e.g. in `workerData`) take turns through a lock in shared memory, one per database
 * file, before SQLite's: the next writer starts the moment the last one commits (`Atomics.notify`), where
 * SQLite's busy wait and the timer sleep 1 to 100 ms between tries, the lock free meanwhile. Writers in other
 * processes are still waited for on the timer. Returns the buffer.
 */
export function shareWriteLocks(buffer?: SharedArrayBuffer): SharedArrayBuffer {
  const shared = buffer ?? new SharedArrayBuffer(2 * sharedLockSlots * Int32Array.BYTES_PER_ELEMENT);
  sharedLocks = new Int32Array(shared);
  if (!channel) {
    channel = new BroadcastChannel('sqlite-write-locks');
    channel.onmessage = wakeWaiters;
    // Not a reason to keep the process alive.
    (channel as unknown as { unref(): void }).unref();
  }
  return shared;
}

/** The slot of a database file (by a hash of its path); none for a private in-memory database. */
function sharedSlotOf(location: string): number | undefined {
  if (!sharedLocks || location.startsWith(':memory:')) return undefined;
  let hash = 0;
  for (let k = 0; k < location.length; k++) hash = (hash * 31 + location.charCodeAt(k)) | 0;
  return Math.abs(hash) % (sharedLocks.length / 2);
}

/**
 * Wakes this thread's writers waiting for a shared lock when another thread releases one. `Atomics.waitAsync`
 * would do it without messages, but Node.js 20 does not wake an idle event loop for it: waiters woke only at
 * their timeouts (85 ms on average, measured).
 */
let channel: InstanceType<typeof BroadcastChannel> | undefined;
const waiters = new Set<() => void>();
const wakeWaiters = () => {
  for (const wake of [...waiters]) wake();
};

/** Waits until `slot`'s ticket being served may have changed: a release here or in another thread. */
const nextRelease = () =>
  new Promise<void>((resolve) => {
    const wake = () => {
      clearTimeout(timer);
      waiters.delete(wake);
      resolve();
    };
    // A safeguard only: every release wakes the waiters.
    const timer = setTimeout(wake, 100);
    waiters.add(wake);
  });

/**
 * Takes `slot`'s lock. The lock only spares the writers SQLite's sleeps: SQLite's own lock still keeps the
 * writes apart. So a lock not released within {@link lockWaitMs} (a thread that died holding it) is taken over.
 */
async function acquire(slot: number): Promise<void> {
  const locks = sharedLocks!;
  const deadline = Date.now() + lockWaitMs;
  Atomics.add(locks, 2 * slot + 1, 1);
  try {
    while (Atomics.compareExchange(locks, 2 * slot, 0, 1) !== 0) {
      if (Date.now() > deadline) return;
      await nextRelease();
    }
  } finally {
    Atomics.sub(locks, 2 * slot + 1, 1);
  }
}

function release(slot: number): void {
  const locks = sharedLocks!;
  Atomics.store(locks, 2 * slot, 0);
  wakeWaiters();
  if (Atomics.load(locks, 2 * slot + 1) > 0) channel?.postMessage(slot);
}

/** A write waiting for its connection's next transaction. */
interface QueuedWrite {
  write: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** Per connection, the writes that will share its next transaction (one that has not begun yet). */
const gathering = new WeakMap<SqliteDatabase, QueuedWrite[]>();

/** Per connection, its transactions asked for and not yet ended (committed or failed). */
const inFlight = new WeakMap<SqliteDatabase, Set<Promise<void>>>();

/** The savepoint each write of a shared transaction runs in, so that its failure undoes it alone. */
const savepoint = 'write_transaction_item';

/**
 * Runs `write` (synchronous statements on `db`) in a write transaction and resolves with its result once that
 * transaction has committed, waiting for the write lock without blocking the thread: SQLite has one writer per
 * database file, and its own busy wait sleeps inside the call, which would hold the event loop (the HTTP answers)
 * while another connection (the host's pipeline thread, an import beside the host) writes. Here the lock is tried,
 * and tried again after a timer (1 ms, doubling to 8 ms), the thread free in between. Past 10 s it waits the
 * blocking way, as a plain statement does, and fails as that does (SQLITE_BUSY).
 *
 * Group commit: the writes asked for on one connection in the same turn of the event loop, or while it waits for
 * the lock, share one transaction (one `BEGIN`/`COMMIT`, one WAL append of the pages they touch), each in its own
 * savepoint and in the order asked. Most of a transaction's cost is its begin and commit, and the change feeds of
 * the host's pipeline write a checkpoint, their progress and a projection each per batch (docs/adr/0018-writes-share-transactions.md).
 * `write` throwing rolls back its own writes only and rejects with its error; the others still commit. A failed
 * `COMMIT` rejects them all. The lock is held only while the writes run, with no `await` among them, so nothing
 * else on this connection runs in the transaction.
 */
export function writeTransaction<T>(db: SqliteDatabase, write: () => T): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let writes = gathering.get(db);
    if (!writes) {
      writes = [];
      gathering.set(db, writes);
      const pending = inFlight.get(db) ?? new Set<Promise<void>>();
      inFlight.set(db, pending);
      const ended = commitGathered(db, writes).finally(() => pending.delete(ended));
      pending.add(ended);
    }
    writes.push({ write, resolve: resolve as (value: unknown) => void, reject });
  });
}

async function commitGathered(db: SqliteDatabase, writes: QueuedWrite[]): Promise<void> {
  const slot = sharedSlotOf(db.location);
  let locked = false;
  try {
    // The rest of this turn's writes join before the transaction begins.
    await new Promise((resolve) => setImmediate(resolve));
    if (slot !== undefined) {
      await acquire(slot);
      locked = true;
    }
    await begin(db);
    // Begun: later writes gather for the next transaction.
    gathering.delete(db);
    const outcomes = runEach(db, writes);
    db.exec('COMMIT');
    outcomes.forEach((outcome, k) =>
      outcome.ok ? writes[k].resolve(outcome.value) : writes[k].reject(outcome.error),
    );
  } catch (err) {
    if (gathering.get(db) === writes) gathering.delete(db);
    // libsql's inTransaction panics (aborting the process) on a closed connection: ask only an open one.
    if (db.open && db.inTransaction) db.exec('ROLLBACK');
    for (const w of writes) w.reject(err);
  } finally {
    if (locked) release(slot!);
  }
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Runs the writes of a begun transaction; one alone needs no savepoint. */
function runEach(db: SqliteDatabase, writes: QueuedWrite[]): Outcome[] {
  // Its error rolls the transaction back and rejects it, in commitGathered.
  if (writes.length === 1) return [{ ok: true, value: writes[0].write() }];
  return writes.map(({ write }): Outcome => {
    db.exec(`SAVEPOINT ${savepoint}`);
    try {
      const value = write();
      db.exec(`RELEASE ${savepoint}`);
      return { ok: true, value };
    } catch (error) {
      // An error that ended the whole transaction (SQLITE_FULL, an I/O error) fails these statements in turn,
      // and so every write of the transaction.
      db.exec(`ROLLBACK TO ${savepoint}`);
      db.exec(`RELEASE ${savepoint}`);
      return { ok: false, error };
    }
  });
}

/** Begins a write transaction on `db` (see {@link writeTransaction} for how the lock is waited for). */
async function begin(db: SqliteDatabase): Promise<void> {
  const deadline = Date.now() + lockWaitMs;
  let pause = 1;
  while (!tryBegin(db)) {
    if (Date.now() > deadline) {
      db.exec('BEGIN IMMEDIATE');
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, pause));
    pause = Math.min(pause * 2, longestPauseMs);
  }
}

/**
 * Closes `db` once the transactions asked for on it before the call have ended: closed under them, they would
 * fail with "The database connection is not open" (their callers, the change feeds' checkpoints or the stock
 * levels written at start, see a write that was asked for and never tried). Writes asked for after the call fail
 * that way.
 */
export async function closeDatabase(db: SqliteDatabase): Promise<void> {
  for (let pending = inFlight.get(db); pending?.size; pending = inFlight.get(db)) {
    await Promise.allSettled([...pending]);
  }
  db.close();
}
