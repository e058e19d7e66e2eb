import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OrderService, snapshotSchema } from '../../src/app/orderService';
import { openDatabase } from '../../src/adapters/sqlite/database';
import { SqliteEventStore } from '../../src/adapters/sqlite/sqliteEventStore';
import { eventStoreContract } from './contract';

eventStoreContract(
  'embedded SQLite',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orders-store-'));
    const store = new SqliteEventStore(openDatabase(dir));
    return {
      store,
      dispose: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  { snapshotRuns: 100 },
);

describe('embedded SQLite: a database written before the head kept a snapshot', () => {
  it('gains the snapshot and recorded_at columns on open; its orders fold their events once, then run on the head', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orders-store-old-'));
    try {
      const old = openDatabase(dir);
      // The tables as they were: `streams` without `snapshot`.
      old.exec(`
        CREATE TABLE commits (position INTEGER PRIMARY KEY AUTOINCREMENT, order_id TEXT NOT NULL,
          i INTEGER NOT NULL, n INTEGER NOT NULL, doc TEXT NOT NULL, UNIQUE (order_id, i));
        CREATE TABLE streams (order_id TEXT PRIMARY KEY, version INTEGER NOT NULL);
        CREATE TABLE checkpoints (consumer TEXT PRIMARY KEY, position TEXT NOT NULL);`);
      const at = '2025-01-01T00:00:00.000Z';
      const commit = {
        id: '0000000000',
        orderId: 'o-old',
        kind: 'commit',
        i: 0,
        n: 2,
        e: [
          {
            type: 'OrderCreated',
            schemaVersion: 1,
            data: { customerId: 'c-1' },
            occurredAt: at,
            metadata: {},
          },
          {
            type: 'ProductAddedToOrder',
            schemaVersion: 1,
            data: { productId: 'p-1', quantity: 2, unitPrice: '1.00', currency: 'BRL' },
            occurredAt: at,
            metadata: {},
          },
        ],
        recordedAt: at,
      };
      old
        .prepare('INSERT INTO commits (order_id, i, n, doc) VALUES (?, 0, 2, ?)')
        .run('o-old', JSON.stringify(commit));
      old.prepare("INSERT INTO streams (order_id, version) VALUES ('o-old', 2)").run();
      old.close();

      const db = openDatabase(dir);
      const store = new SqliteEventStore(db);
      new SqliteEventStore(db); // a second open finds the column there
      expect(await store.readHead('o-old')).toEqual({ version: 2 });
      const orders = new OrderService(store);
      const current = await orders.current('o-old');
      expect(current).toMatchObject({ source: 'events', version: 2, updatedAt: at });
      expect(current.state.lines).toEqual([
        { productId: 'p-1', quantity: 2, unitPrice: '1.00', currency: 'BRL' },
      ]);
      expect((await store.readHead('o-old'))?.snapshot).toMatchObject({ schema: snapshotSchema, version: 2 });
      const result = await orders.handle('o-old', { type: 'SubmitOrder', occurredAt: at });
      expect(result).toMatchObject({ version: 3, state: { status: 'submitted' } });
      expect(await orders.current('o-old')).toMatchObject({ source: 'snapshot', version: 3 });
      // The commit written before the recorded_at column is counted in its minute, beside the new one.
      const activity = await store.activitySince('2024-12-31T23:59:00.000Z');
      expect(activity[0]).toEqual({ minute: '2025-01-01T00:00:00.000Z', commits: 1, events: 2 });
      expect(activity.reduce((k, m) => k + m.commits, 0)).toBe(2);
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
