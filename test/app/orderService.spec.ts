import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/adapters/sqlite/database';
import { SqliteEventStore } from '../../src/adapters/sqlite/sqliteEventStore';
import { OrderService, snapshotSchema } from '../../src/app/orderService';
import { EventStore } from '../../src/ports/eventStore';

/**
 * Commands at constant cost (issue 14, point 1; docs/adr/0015-snapshot-in-the-head.md): a command reads the
 * order's head, whose snapshot is its folded state, and not its stream. Exactness against the fold of the
 * stream is the property of the store contract (test/store/contract.ts), on both stores.
 */
const at = '2026-01-02T10:00:00.000Z';
const line = { productId: 'p-1', quantity: 1, unitPrice: '1.00', currency: 'BRL' };

/** The store, with the calls made to it counted by method. */
function counted(store: EventStore) {
  const calls = new Map<string, number>();
  const proxy = new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.set(String(name), (calls.get(String(name)) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, calls };
}

let store: SqliteEventStore;
beforeEach(() => {
  store = new SqliteEventStore(openDatabase(':memory:'));
});
afterEach(async () => {
  await store.close();
});

describe('OrderService: commands on the head', () => {
  it('names its snapshots by the fold’s version and the event catalogue', () => {
    expect(snapshotSchema).toMatch(/^order-state\.v\d+\.[0-9a-f]{8}$/);
  });

  it('never reads the stream for a command once the head holds a current snapshot', async () => {
    const { store: spy, calls } = counted(store);
    const orders = new OrderService(spy, () => new Date(at));
    await orders.handle('o-1', { type: 'CreateOrder', customerId: 'c-1' });
    for (let k = 0; k < 50; k++) await orders.handle('o-1', { type: 'AddProduct', line });
    await orders.handle('o-1', { type: 'SubmitOrder' });
    expect(calls.get('readStream') ?? 0).toBe(0);
    expect(calls.get('readHead')).toBe(52);
    expect(calls.get('append')).toBe(52);
    const { state, version } = await orders.current('o-1');
    expect(version).toBe(52);
    expect(state.lines).toEqual([{ ...line, quantity: 50 }]);
    expect(state.status).toBe('submitted');
  });

  it('answers the appended events, or the last stored one when a command changes nothing', async () => {
    const orders = new OrderService(store, () => new Date(at));
    const created = await orders.handle('o-2', { type: 'CreateOrder', customerId: 'c-1' });
    expect(created.appended.map((e) => [e.type, e.version])).toEqual([['OrderCreated', 1]]);
    expect(created.events).toEqual(created.appended);
    const added = await orders.handle('o-2', {
      type: 'AddProduct',
      line,
      occurredAt: '2026-01-03T00:00:00.000Z',
    });
    expect(added).toMatchObject({ version: 2, updatedAt: '2026-01-03T00:00:00.000Z' });
    // Creating the same order again changes nothing: the answer carries the order's last event (version 2).
    const again = await orders.handle('o-2', { type: 'CreateOrder', customerId: 'c-1' });
    expect(again.appended).toEqual([]);
    expect(again.events.map((e) => [e.type, e.version])).toEqual([['ProductAddedToOrder', 2]]);
    expect(again).toMatchObject({ version: 2, updatedAt: '2026-01-03T00:00:00.000Z' });
  });

  it('on an unknown order, reads one head and keeps nothing', async () => {
    const orders = new OrderService(store);
    expect(await orders.current('nobody')).toMatchObject({ version: 0, state: { exists: false } });
    expect(await store.readHead('nobody')).toBeUndefined();
  });

  it('rebuilds a stale snapshot from the events, and a failure to keep it does not fail the command', async () => {
    const orders = new OrderService(store, () => new Date(at));
    await orders.handle('o-3', { type: 'CreateOrder', customerId: 'c-1' });
    await orders.handle('o-3', { type: 'AddProduct', line });
    // As a deployment with another fold would leave it.
    expect(
      await store.saveSnapshot('o-3', { schema: 'order-state.v0.00000000', version: 2, state: {} }),
    ).toBe(true);
    const { store: failing, calls } = counted(
      Object.assign(Object.create(store) as SqliteEventStore, {
        saveSnapshot: () => Promise.reject(new Error('store unavailable')),
      }),
    );
    const result = await new OrderService(failing, () => new Date(at)).handle('o-3', {
      type: 'RemoveProduct',
      productId: 'p-1',
    });
    expect(result).toMatchObject({ version: 3, state: { lines: [] } });
    expect(calls.get('readStream')).toBe(1);
    // The append wrote this code's snapshot with the commit.
    expect((await store.readHead('o-3'))?.snapshot).toMatchObject({ schema: snapshotSchema, version: 3 });
  });

  it('keeps load() a fold of the events: as of a business time, and up to a version', async () => {
    const orders = new OrderService(store);
    await orders.handle('o-4', {
      type: 'CreateOrder',
      customerId: 'c-1',
      occurredAt: '2026-01-01T00:00:00Z',
    });
    await orders.handle('o-4', { type: 'AddProduct', line, occurredAt: '2026-01-05T00:00:00Z' });
    const then = await orders.load('o-4', { asOf: '2026-01-02T00:00:00Z' });
    expect(then).toMatchObject({ version: 1, state: { lines: [] }, updatedAt: '2026-01-01T00:00:00Z' });
    expect((await orders.load('o-4')).events.map((e) => e.version)).toEqual([1, 2]);
  });
});

describe('OrderService: commands on one order in one process', () => {
  it('takes concurrent commands on one order one at a time: every one appends at its first try', async () => {
    const { store: watched, calls } = counted(store);
    const orders = new OrderService(watched, () => new Date(at));
    await orders.handle('o-busy', { type: 'CreateOrder', customerId: 'c-1' });
    calls.clear();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, k) =>
        orders.handle('o-busy', { type: 'AddProduct', line: { ...line, productId: `p-${k}` } }),
      ),
    );
    expect(results.map((r) => r.version).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 20 }, (_, k) => k + 2),
    );
    // Each command read the head once and appended once: none lost a race for the version and retried.
    expect(calls.get('append')).toBe(20);
  });

  it('runs commands on different orders side by side, and a refused one does not hold up the next', async () => {
    const orders = new OrderService(store, () => new Date(at));
    await orders.handle('o-a', { type: 'CreateOrder', customerId: 'c-1' });
    const refused = orders.handle('o-missing', { type: 'AddProduct', line });
    const next = orders.handle('o-missing', { type: 'CreateOrder', customerId: 'c-2' });
    const other = orders.handle('o-a', { type: 'AddProduct', line });
    await expect(refused).rejects.toThrow();
    expect((await next).version).toBe(1);
    expect((await other).version).toBe(2);
  });
});
