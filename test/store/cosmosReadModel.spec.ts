import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrderSummary } from '../../src/domain/orderView';
import { OrderService } from '../../src/app/orderService';
import { FeedDocument, projectCommits } from '../../src/app/projection';
import { OrderStatus } from '../../src/domain/state';
import { initialState, orderStatuses } from '../../src/domain/state';
import { CosmosConnection } from '../../src/adapters/cosmos/connection';
import { CosmosEventStore } from '../../src/adapters/cosmos/cosmosEventStore';
import { CosmosIdempotencyStore } from '../../src/adapters/cosmos/cosmosIdempotency';
import { CosmosOrderReadModel } from '../../src/adapters/cosmos/cosmosReadModel';
import { IdempotencyStore } from '../../src/ports/idempotency';
import { InvalidContinuationTokenError, OrderReadModel, ReadModelEntry } from '../../src/ports/readModel';
import { openDatabase } from '../../src/adapters/sqlite/database';
import { SqliteIdempotencyStore } from '../../src/adapters/sqlite/sqliteIdempotency';
import { SqliteOrderReadModel } from '../../src/adapters/sqlite/sqliteReadModel';
import { CosmosTestServer, startCosmosTestServer } from '../support/cosmosServer';
import { newStreamId } from './contract';

/**
 * The read model and the idempotency keys on Cosmos DB (through the real SDK, against
 * @vercel/cosmosdb-server), held to the same expectations as the embedded SQLite adapters; and the
 * change-feed handler fed raw documents of the events container, head documents included.
 */

let server: CosmosTestServer;
let connection: CosmosConnection;
beforeAll(async () => {
  server = await startCosmosTestServer();
  connection = await server.connect();
});
afterAll(async () => server?.stop());

const entry = (
  orderId: string,
  customerId: string,
  createdAt: string,
  version = 1,
  status: OrderStatus = 'draft',
) => {
  const summary: OrderSummary = {
    orderId,
    customerId,
    status,
    total: '0.00',
    lineCount: 0,
    itemCount: 0,
    version,
    createdAt,
    updatedAt: createdAt,
  };
  const state = { ...initialState(), exists: true, customerId, status, createdAt };
  return { summary, state } satisfies ReadModelEntry;
};

function readModelSuite(name: string, open: () => OrderReadModel) {
  describe(`order read model: ${name}`, () => {
    let model: OrderReadModel;
    beforeAll(() => {
      model = open();
    });

    it('reads an unknown order as undefined, and a put order back', async () => {
      const id = newStreamId('rm');
      expect(await model.get(id)).toBeUndefined();
      const e = entry(id, 'c-1', '2026-01-01T00:00:00.000Z');
      await model.put(e);
      expect(await model.get(id)).toEqual(e);
    });

    it('keeps the newest version: an equal or older put changes nothing', async () => {
      const id = newStreamId('rm');
      await model.put(entry(id, 'c-1', '2026-01-01T00:00:00.000Z', 3, 'submitted'));
      await model.put(entry(id, 'c-1', '2026-01-01T00:00:00.000Z', 2, 'draft'));
      await model.put({ ...entry(id, 'c-1', '2026-01-01T00:00:00.000Z', 3, 'cancelled') });
      expect((await model.get(id))?.summary).toMatchObject({ version: 3, status: 'submitted' });
      await model.put(entry(id, 'c-1', '2026-01-01T00:00:00.000Z', 4, 'cancelled'));
      expect((await model.get(id))?.summary).toMatchObject({ version: 4, status: 'cancelled' });
    });

    it('counts orders by status: every status in lifecycle order, zero included', async () => {
      const before = await model.countByStatus();
      expect(before.map((c) => c.status)).toEqual([...orderStatuses]);
      await model.put(entry(newStreamId('rm'), 'c-9', '2026-01-02T00:00:00.000Z', 2, 'submitted'));
      await model.put(entry(newStreamId('rm'), 'c-9', '2026-01-02T00:00:00.000Z', 2, 'submitted'));
      const cancelled = newStreamId('rm');
      await model.put(entry(cancelled, 'c-9', '2026-01-02T00:00:00.000Z', 1, 'draft'));
      await model.put(entry(cancelled, 'c-9', '2026-01-02T00:00:00.000Z', 2, 'cancelled'));
      const after = await model.countByStatus();
      const delta = after.map((c, k) => [c.status, c.count - before[k].count]);
      expect(Object.fromEntries(delta)).toEqual({
        ...Object.fromEntries(orderStatuses.map((st) => [st, 0])),
        submitted: 2,
        cancelled: 1,
      });
    });

    it('lets concurrent puts of one order end at the highest version', async () => {
      const id = newStreamId('rm');
      await Promise.all(
        [5, 2, 4, 1, 3].map((v) => model.put(entry(id, 'c-1', '2026-01-01T00:00:00.000Z', v, 'draft'))),
      );
      expect((await model.get(id))?.summary.version).toBe(5);
    });

    it('lists newest first (createdAt desc, then orderId desc), filtered, in keyset pages', async () => {
      const customerId = newStreamId('cust');
      const other = newStreamId('cust');
      const t = (d: number) => `2026-02-0${d}T00:00:00.000Z`;
      const rows = [
        entry(`${customerId}-a`, customerId, t(1)),
        entry(`${customerId}-b`, customerId, t(3)),
        entry(`${customerId}-c`, customerId, t(2), 2, 'cancelled'),
        entry(`${customerId}-d`, customerId, t(3)),
        entry(`${customerId}-e`, customerId, t(2)),
        entry(`${other}-x`, other, t(9)),
      ];
      for (const r of rows) await model.put(r);
      const expected = [
        `${customerId}-d`,
        `${customerId}-b`,
        `${customerId}-e`,
        `${customerId}-c`,
        `${customerId}-a`,
      ];
      const all = await model.list({ customerId, limit: 100 });
      expect(all.items.map((s) => s.orderId)).toEqual(expected);
      expect(all.continuationToken).toBeUndefined();
      const paged: string[] = [];
      let token: string | undefined;
      do {
        const page = await model.list({ customerId, limit: 2, continuationToken: token });
        expect(page.items.length).toBeLessThanOrEqual(2);
        paged.push(...page.items.map((s) => s.orderId));
        token = page.continuationToken;
      } while (token);
      expect(paged).toEqual(expected);
      const cancelled = await model.list({ customerId, status: 'cancelled', limit: 10 });
      expect(cancelled.items.map((s) => s.orderId)).toEqual([`${customerId}-c`]);
      await expect(model.list({ limit: 2, continuationToken: 'not-a-token' })).rejects.toBeInstanceOf(
        InvalidContinuationTokenError,
      );
    });
  });
}

function idempotencySuite(name: string, open: () => IdempotencyStore) {
  describe(`idempotency keys: ${name}`, () => {
    let keys: IdempotencyStore;
    beforeAll(() => {
      keys = open();
    });
    const response = { status: 200, headers: { etag: '"2"' }, body: '{"ok":true}' };

    it('reserves a key once, reports it in progress, replays it once completed, and detects another request', async () => {
      const key = `POST /api/orders/o-1/items ${newStreamId('key')}`;
      expect(await keys.reserve(key, 'f1')).toEqual({ outcome: 'reserved' });
      expect(await keys.reserve(key, 'f1')).toEqual({ outcome: 'in-progress' });
      expect(await keys.reserve(key, 'f2')).toEqual({ outcome: 'mismatch' });
      await keys.complete(key, response);
      expect(await keys.reserve(key, 'f1')).toEqual({ outcome: 'replay', response });
      await keys.release(key);
      expect(await keys.reserve(key, 'f1')).toEqual({ outcome: 'replay', response });
    });

    it('frees a released reservation for a retry', async () => {
      const key = `POST /api/orders ${newStreamId('key')}`;
      expect(await keys.reserve(key, 'f1')).toEqual({ outcome: 'reserved' });
      await keys.release(key);
      expect(await keys.reserve(key, 'f1')).toEqual({ outcome: 'reserved' });
    });

    it('gives a key to exactly one of concurrent requests', async () => {
      const key = `POST /api/orders ${newStreamId('key')}`;
      const outcomes = await Promise.all(Array.from({ length: 10 }, () => keys.reserve(key, 'f1')));
      expect(outcomes.filter((o) => o.outcome === 'reserved')).toHaveLength(1);
    });
  });
}

readModelSuite('embedded SQLite', () => new SqliteOrderReadModel(openDatabase(':memory:')));
readModelSuite('Cosmos DB (@vercel/cosmosdb-server)', () => new CosmosOrderReadModel(connection.readModel));
idempotencySuite('embedded SQLite', () => new SqliteIdempotencyStore(openDatabase(':memory:')));
idempotencySuite(
  'Cosmos DB (@vercel/cosmosdb-server)',
  () => new CosmosIdempotencyStore(connection.idempotency),
);

describe('idempotency keys on Cosmos DB: expiry of a stale reservation', () => {
  it('lets a reservation older than the pending TTL be taken over', async () => {
    const keys = new CosmosIdempotencyStore(connection.idempotency);
    const key = `POST /api/orders ${newStreamId('key')}`;
    await keys.reserve(key, 'f1');
    const { resources } = await connection.idempotency.items
      .query({ query: 'SELECT * FROM c WHERE c.key = @k', parameters: [{ name: '@k', value: key }] })
      .fetchAll();
    expect(resources).toHaveLength(1);
    expect(resources[0].id).toMatch(/^[0-9a-f]{64}$/); // a hash: scoped keys hold "/", which ids may not
    await connection.idempotency
      .item(resources[0].id, resources[0].id)
      .replace({ ...resources[0], reservedAt: 0 });
    expect(await keys.reserve(key, 'f1')).toEqual({ outcome: 'reserved' });
  });
});

describe('change-feed handler on Cosmos DB documents', () => {
  /** Every document of the events container for these orders, heads included, as the change feed carries them. */
  const rawDocuments = async (orderIds: string[]) =>
    (
      await connection.events.items
        .query<{ kind?: string; orderId?: string }>({
          query: 'SELECT * FROM c WHERE ARRAY_CONTAINS(@ids, c.orderId)',
          parameters: [{ name: '@ids', value: orderIds }],
        })
        .fetchAll()
    ).resources;

  it('projectCommits applies the commits and ignores the head documents', async () => {
    const store = new CosmosEventStore(connection.events, { leases: connection.leases });
    const readModel = new CosmosOrderReadModel(connection.readModel);
    const orders = new OrderService(store);
    const orderId = newStreamId('proj');
    await orders.handle(orderId, { type: 'CreateOrder', customerId: 'c-9' });
    await orders.handle(orderId, {
      type: 'AddProduct',
      line: { productId: 'p-1', quantity: 1, unitPrice: '3.00', currency: 'BRL' },
    });
    const docs = await rawDocuments([orderId]);
    expect(docs.filter((d) => d.kind === 'head')).toHaveLength(1);
    // The head carries the order's folded state (docs/adr/0015-snapshot-in-the-head.md): still not a commit.
    expect(docs.find((d) => d.kind === 'head')).toHaveProperty('snapshot.state.state.lines');
    // Heads first, as the change feed may deliver a head before the commits of its order.
    const ordered = [...docs.filter((d) => d.kind === 'head'), ...docs.filter((d) => d.kind === 'commit')];
    const feed = ordered as FeedDocument[];
    expect(await projectCommits(feed, readModel, store)).toEqual({ applied: 2, skipped: 0 });
    expect((await readModel.get(orderId))?.summary).toMatchObject({ version: 2, total: '3.00' });
    expect(await projectCommits(feed, readModel, store)).toEqual({ applied: 0, skipped: 2 });
  });

  it('the registered orderReadModelProjection function (as built) ignores heads, with its trigger options checked', async () => {
    // The built function file, registered through the local functions core as the host does (dist/ is
    // built by the test global setup). Node's own require keeps one copy of @azure/functions.
    const nodeRequire = createRequire(__filename);
    const dist = (path: string) => nodeRequire(resolve(__dirname, '../../dist/src', path));
    const { FunctionsCore, installFunctionsCore } = dist(
      'local/functionsCore.js',
    ) as typeof import('../../src/local/functionsCore');
    const core = new FunctionsCore();
    installFunctionsCore(core);
    dist('functions/orderProjection.js');
    const fn = core.functions.get('orderReadModelProjection')!;
    expect(fn.trigger).toMatchObject({
      type: 'cosmosDBTrigger',
      connection: 'COSMOS',
      databaseName: '%COSMOS_DATABASE%',
      containerName: 'events',
      leaseContainerName: 'leases',
      startFromBeginning: true,
      maxItemsPerInvocation: 100,
    });
    expect(fn.metadata.retryOptions).toMatchObject({
      retryStrategy: 'exponentialBackoff',
      maxRetryCount: -1,
    });

    const saved = { ...process.env };
    Object.assign(process.env, server.env, { COSMOS_DATABASE: 'orders' });
    const services = dist('composition/services.js') as typeof import('../../src/composition/services');
    const { createInvocationContext } = dist(
      'local/invocation.js',
    ) as typeof import('../../src/local/invocation');
    const { Logger } = dist('local/logger.js') as typeof import('../../src/local/logger');
    try {
      const store = new CosmosEventStore(connection.events, { leases: connection.leases });
      const orderId = newStreamId('fn');
      await new OrderService(store).handle(orderId, { type: 'CreateOrder', customerId: 'c-7' });
      const docs = await rawDocuments([orderId]);
      expect(docs.map((d) => d.kind).sort()).toEqual(['commit', 'head']);
      const context = createInvocationContext(fn, new Logger('error', () => {}));
      await fn.callback(docs, context);
      const entryOf = await new CosmosOrderReadModel(connection.readModel).get(orderId);
      expect(entryOf?.summary).toMatchObject({ orderId, customerId: 'c-7', version: 1 });
    } finally {
      await services.closeServices();
      process.env = saved;
    }
  });
});
