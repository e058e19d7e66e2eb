import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  closeDatabase,
  openDatabase,
  SqliteDatabase,
  writeTransaction,
} from '../../src/adapters/sqlite/database';
import { SqliteEventStore } from '../../src/adapters/sqlite/sqliteEventStore';
import { StoredEventRecord, WrongExpectedVersionError } from '../../src/ports/eventStore';

describe('writeTransaction: the SQLite write lock waited for without blocking the thread', () => {
  let dir: string;
  let holder: SqliteDatabase;
  let writer: SqliteDatabase;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'write-lock-'));
    holder = openDatabase(dir, 'lock.db');
    holder.exec('CREATE TABLE t (x INTEGER)');
    writer = openDatabase(dir, 'lock.db');
  });

  afterEach(() => {
    if (holder.open && holder.inTransaction) holder.exec('ROLLBACK');
    holder.close();
    writer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const count = () => (writer.prepare('SELECT COUNT(*) AS n FROM t').get() as { n: number }).n;

  /** The COMMITs `writer` runs from now on; the statements still run on the real connection. */
  const commitsOf = (db: SqliteDatabase): string[] => {
    const commits: string[] = [];
    const exec = db.exec.bind(db);
    db.exec = (sql: string) => {
      if (sql === 'COMMIT') commits.push(sql);
      return exec(sql);
    };
    return commits;
  };

  it('lets timers run while another connection holds the lock, then writes once it is released', async () => {
    holder.exec('BEGIN IMMEDIATE');
    const insert = writer.prepare('INSERT INTO t VALUES (?)');
    const written = writeTransaction(writer, () => insert.run(1));
    // SQLite's own busy wait would hold the thread until the lock is free: these timers could not fire.
    let ticks = 0;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (++ticks === 5) {
          clearInterval(timer);
          resolve();
        }
      }, 5);
    });
    expect(count()).toBe(0);
    holder.exec('COMMIT');
    await written;
    expect(count()).toBe(1);
  });

  it('runs transactions started together on one connection one after the other', async () => {
    holder.exec('BEGIN IMMEDIATE');
    const insert = writer.prepare('INSERT INTO t VALUES (?)');
    const all = Promise.all([1, 2, 3].map((x) => writeTransaction(writer, () => insert.run(x))));
    setTimeout(() => holder.exec('COMMIT'), 20);
    await all;
    expect(count()).toBe(3);
  });

  it('rolls back what the write did when it throws, and rejects with its error', async () => {
    const insert = writer.prepare('INSERT INTO t VALUES (?)');
    await expect(
      writeTransaction(writer, () => {
        insert.run(1);
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect(count()).toBe(0);
    expect(writer.inTransaction).toBe(false);
  });

  it('commits the writes asked for in one turn in one transaction', async () => {
    const insert = writer.prepare('INSERT INTO t VALUES (?)');
    const commits = commitsOf(writer);
    await Promise.all([1, 2, 3, 4].map((x) => writeTransaction(writer, () => insert.run(x))));
    expect(count()).toBe(4);
    expect(commits).toHaveLength(1);
    await writeTransaction(writer, () => insert.run(5));
    expect(commits).toHaveLength(2);
  });

  it('undoes only the write that throws among writes sharing a transaction', async () => {
    const insert = writer.prepare('INSERT INTO t VALUES (?)');
    const results = await Promise.allSettled([
      writeTransaction(writer, () => insert.run(1)),
      writeTransaction(writer, () => {
        insert.run(2);
        throw new Error('refused');
      }),
      writeTransaction(writer, () => insert.run(3).changes),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toEqual(new Error('refused'));
    expect((results[2] as PromiseFulfilledResult<number>).value).toBe(1);
    const rows = writer.prepare('SELECT x FROM t ORDER BY x').all() as { x: number }[];
    expect(rows.map((r) => r.x)).toEqual([1, 3]);
    expect(writer.inTransaction).toBe(false);
  });

  // libsql's inTransaction getter panics on a closed connection, which aborts the whole process (a vitest
  // worker "exited unexpectedly" in CI): these two fail that way if the rollback path asks a closed connection.
  it('rejects the writes of a connection closed before their transaction begins, and the process goes on', async () => {
    const written = writeTransaction(writer, () => writer.exec('INSERT INTO t VALUES (1)'));
    writer.close();
    await expect(written).rejects.toThrow(/not open/i);
  });

  it('rejects the writes of a connection closed while they wait for the lock', async () => {
    holder.exec('BEGIN IMMEDIATE');
    const written = writeTransaction(writer, () => writer.exec('INSERT INTO t VALUES (1)'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    writer.close();
    await expect(written).rejects.toThrow(/not open/i);
    holder.exec('ROLLBACK');
  });

  it('closes a connection only once the writes asked for before the close have committed', async () => {
    holder.exec('BEGIN IMMEDIATE');
    const written = writeTransaction(writer, () => writer.exec('INSERT INTO t VALUES (1)'));
    const closed = closeDatabase(writer);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(writer.open).toBe(true);
    holder.exec('COMMIT');
    await Promise.all([written, closed]);
    expect(writer.open).toBe(false);
    expect((holder.prepare('SELECT COUNT(*) AS n FROM t').get() as { n: number }).n).toBe(1);
  });

  it('gathers the writes asked for while the lock is held into the transaction that follows', async () => {
    holder.exec('BEGIN IMMEDIATE');
    const insert = writer.prepare('INSERT INTO t VALUES (?)');
    const commits = commitsOf(writer);
    const first = writeTransaction(writer, () => insert.run(1));
    await new Promise((resolve) => setTimeout(resolve, 15));
    const second = writeTransaction(writer, () => insert.run(2));
    holder.exec('COMMIT');
    await Promise.all([first, second]);
    expect(count()).toBe(2);
    expect(commits).toHaveLength(1);
  });
});

describe('SqliteEventStore.append: concurrent appends written together', () => {
  it('writes the appends that wait together, and refuses only the one whose expected version is stale', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'group-append-'));
    const store = new SqliteEventStore(openDatabase(dir));
    try {
      const event = (orderId: string): StoredEventRecord => ({
        type: 'OrderCreated',
        schemaVersion: 2,
        occurredAt: '2026-01-01T00:00:00.000Z',
        data: { orderId, customerId: 'c-1' },
        metadata: {},
      });
      await store.append('o-0', 0, [event('o-0')]);
      const results = await Promise.allSettled([
        store.append('o-1', 0, [event('o-1')]),
        store.append('o-0', 0, [event('o-0')]), // stale: o-0 is at version 1
        store.append('o-2', 0, [event('o-2')]),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(WrongExpectedVersionError);
      expect((await store.readHead('o-1'))?.version).toBe(1);
      expect((await store.readHead('o-2'))?.version).toBe(1);
      expect((await store.readStream('o-0')).events).toHaveLength(1);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
