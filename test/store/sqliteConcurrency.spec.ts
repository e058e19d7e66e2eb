import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/adapters/sqlite/database';
import { SqliteEventStore } from '../../src/adapters/sqlite/sqliteEventStore';

// Each worker has its own connection to the same database file, as two processes would (the host and
// an import). It appends with expected versions it guesses, half of them stale or made up. A barrier
// makes the four read the stream before any of them appends in each round, so the race happens whatever
// the machine's load or scheduling (without it, workers that happen to run one after another never race).
const workerCode = `
const { parentPort, workerData } = require('node:worker_threads');
const { openDatabase } = require(workerData.dist + '/adapters/sqlite/database.js');
const { SqliteEventStore } = require(workerData.dist + '/adapters/sqlite/sqliteEventStore.js');
(async () => {
  const store = new SqliteEventStore(openDatabase(workerData.dir));
  const barrier = new Int32Array(workerData.barrier);
  const arrive = () => {
    const generation = Atomics.load(barrier, 1);
    if (Atomics.add(barrier, 0, 1) === workerData.parties - 1) {
      Atomics.store(barrier, 0, 0);
      Atomics.add(barrier, 1, 1);
      Atomics.notify(barrier, 1);
    } else {
      while (Atomics.load(barrier, 1) === generation) Atomics.wait(barrier, 1, generation, 1000);
    }
  };
  let won = 0, lost = 0;
  for (let k = 0; k < workerData.appends; k++) {
    const current = (await store.readStream(workerData.stream)).version;
    arrive();
    const expected = k % 2 === 0 ? current : Math.max(0, current - 1 + (k % 3));
    try {
      await store.append(workerData.stream, expected, [
        { type: 'W', schemaVersion: 1, data: { w: workerData.id, k }, occurredAt: new Date().toISOString(), metadata: {} },
      ]);
      won++;
    } catch (err) {
      if (err.constructor.name !== 'WrongExpectedVersionError') throw err;
      lost++;
    }
  }
  await store.close();
  parentPort.postMessage({ won, lost });
})().catch((err) => { throw err; });
`;

describe('embedded store across connections', () => {
  it('keeps versions contiguous when four connections append to one stream at once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orders-mt-'));
    const barrier = new SharedArrayBuffer(8);
    const dist = resolve(process.cwd(), 'dist/src');
    const results = await Promise.all(
      [0, 1, 2, 3].map(
        (id) =>
          new Promise<{ won: number; lost: number }>((res, rej) => {
            const w = new Worker(workerCode, {
              eval: true,
              workerData: { dist, dir, id, stream: 'contended', appends: 150, barrier, parties: 4 },
            });
            w.once('message', res);
            w.once('error', rej);
          }),
      ),
    );
    const won = results.reduce((n, r) => n + r.won, 0);
    const lost = results.reduce((n, r) => n + r.lost, 0);
    expect(won + lost).toBe(600);
    // Every round all four read the same version and at most one append can win with it.
    expect(lost).toBeGreaterThanOrEqual(450);
    const store = new SqliteEventStore(openDatabase(dir));
    const slice = await store.readStream('contended');
    await store.close();
    expect(slice.version).toBe(won);
    expect(slice.events.map((e) => e.version)).toEqual(Array.from({ length: won }, (_, k) => k + 1));
  });
});
