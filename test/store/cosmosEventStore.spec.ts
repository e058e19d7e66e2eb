import { Items } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsIndexingPolicy } from '../../src/adapters/cosmos/containers';
import { OrderService, snapshotSchema } from '../../src/app/orderService';
import { CosmosConnection } from '../../src/adapters/cosmos/connection';
import { CosmosEventStore, FeedMode } from '../../src/adapters/cosmos/cosmosEventStore';
import { CommitTooLargeError, WrongExpectedVersionError } from '../../src/ports/eventStore';
import { connectReal, realCosmosSettings, startCosmosTestServer } from '../support/cosmosServer';
import { event, eventStoreContract, newStreamId } from './contract';

/**
 * The Cosmos DB adapter through the real @azure/cosmos SDK: against @vercel/cosmosdb-server, started here,
 * always; against a real account or emulator as well when COSMOS_ENDPOINT and COSMOS_KEY are set.
 */

/** What the test server cannot prove, for the contract suite's test names. */
const testServerLimits = {
  concurrency:
    'the test server runs a batch without interleaving but never rolls it back, so this shows the etag guard, not Cosmos DB atomicity',
  feed: "the test server's change feed is a stub, so this reads the commits with a query in insertion order (test-server-scan)",
};

eventStoreContract(
  'Cosmos DB adapter, real SDK, @vercel/cosmosdb-server',
  async () => {
    const server = await startCosmosTestServer();
    const connection = await server.connect();
    const store = new CosmosEventStore(connection.events, {
      leases: connection.leases,
      feedMode: 'test-server-scan',
    });
    return { store, dispose: () => server.stop() };
  },
  { limits: testServerLimits },
);

const real = realCosmosSettings();
if (real) {
  eventStoreContract(`Cosmos DB adapter, real SDK, account ${real.COSMOS_ENDPOINT}`, async () => {
    const { connection, drop } = await connectReal(real);
    return { store: new CosmosEventStore(connection.events, { leases: connection.leases }), dispose: drop };
  });
} else {
  describe('event store contract: a real Cosmos DB account or emulator', () => {
    it.skip('runs when COSMOS_ENDPOINT and COSMOS_KEY are set (plus COSMOS_TLS_INSECURE=true for the emulator)', () => {});
  });
}

interface Target {
  connection: CosmosConnection;
  dispose(): Promise<void>;
}

/** `isReal`: Cosmos DB proper (atomic batches, a working change feed), not the test server. */
function adapterDetails(name: string, isReal: boolean, open: () => Promise<Target>) {
  describe(`Cosmos DB adapter details: ${name}`, () => {
    let target: Target;
    let connection: CosmosConnection;
    let charges: { operation: string; ru: number }[];
    let store: CosmosEventStore;
    const storeWith = (feedMode: FeedMode) =>
      new CosmosEventStore(connection.events, {
        leases: connection.leases,
        feedMode,
        onRequestCharge: (operation, ru) => charges.push({ operation, ru }),
      });
    beforeAll(async () => {
      target = await open();
      connection = target.connection;
      charges = [];
      store = storeWith(isReal ? 'changefeed' : 'test-server-scan');
    });
    afterAll(async () => target?.dispose());

    /** Every document of one order's partition, as Cosmos DB stores it. */
    const partition = async (orderId: string) =>
      (
        await connection.events.items
          .query<Record<string, unknown>>(
            { query: 'SELECT * FROM c WHERE c.orderId = @o', parameters: [{ name: '@o', value: orderId }] },
            { partitionKey: orderId },
          )
          .fetchAll()
      ).resources;
    const commitsOf = async (orderId: string) =>
      (await partition(orderId)).filter((d) => d.kind === 'commit').sort((a, b) => Number(a.i) - Number(b.i));
    const headOf = async (orderId: string) => (await partition(orderId)).find((d) => d.kind === 'head');
    const withoutSystem = (d: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(d).filter(([k]) => !k.startsWith('_')));

    it('stores one commit document per command, partitioned by /orderId, and a head at the last commit’s n', async () => {
      const orders = new OrderService(store);
      const orderId = newStreamId('shape');
      const at = '2026-01-02T10:00:00.000Z';
      const line = { productId: 'p-1', quantity: 2, unitPrice: '10.50', currency: 'BRL' };
      await orders.handle(orderId, { type: 'CreateOrder', customerId: 'c-1', occurredAt: at });
      await orders.handle(orderId, { type: 'AddProduct', line, occurredAt: at });
      await orders.handle(orderId, {
        type: 'AddProduct',
        line: { ...line, productId: 'p-2' },
        occurredAt: at,
      });
      await orders.handle(orderId, { type: 'SubmitOrder', occurredAt: at });

      const definition = (await connection.events.read()).resource;
      expect(definition?.partitionKey?.paths).toEqual(['/orderId']);
      const docs = await partition(orderId);
      expect(docs.every((d) => d.orderId === orderId)).toBe(true);
      const commits = await commitsOf(orderId);
      expect(commits.map((c) => [c.id, c.i, c.n])).toEqual([
        ['0000000000', 0, 1],
        ['0000000001', 1, 2],
        ['0000000002', 2, 3],
        ['0000000003', 3, 4],
      ]);
      expect(Object.keys(withoutSystem(commits[0])).sort()).toEqual([
        'e',
        'i',
        'id',
        'kind',
        'n',
        'orderId',
        'recordedAt',
      ]);
      expect(commits[0].e).toMatchObject([
        { type: 'OrderCreated', schemaVersion: 2, data: { customerId: 'c-1' } },
      ]);
      const head = await headOf(orderId);
      expect(withoutSystem(head!)).toEqual({
        id: 'head',
        orderId,
        kind: 'head',
        version: commits[3].n,
        // The folded state at that version, written in the batch of the last commit.
        snapshot: {
          schema: snapshotSchema,
          version: commits[3].n,
          state: {
            state: expect.objectContaining({ status: 'submitted', customerId: 'c-1' }),
            updatedAt: at,
          },
        },
      });
      expect(docs).toHaveLength(commits.length + 1);
      // The partition key is what addresses an item: a point read under another order's key finds nothing.
      expect((await connection.events.item('0000000000', orderId).read()).resource?.id).toBe('0000000000');
      expect(
        (await connection.events.item('0000000000', `${orderId}-other`).read()).resource,
      ).toBeUndefined();
    });

    it('creates the events container with the indexing policy of src/adapters/cosmos/containers.ts (payloads /e/* excluded)', async () => {
      const policy = (await connection.events.read()).resource?.indexingPolicy;
      expect(policy?.includedPaths?.map((p) => p.path)).toEqual(
        expect.arrayContaining(eventsIndexingPolicy.includedPaths!.map((p) => p.path)),
      );
      expect(policy?.excludedPaths?.map((p) => p.path)).toEqual(expect.arrayContaining(['/e/*', '/*']));
    });

    it(
      'refuses a batch whose head guard fails (412, the head changed after its etag was read) and writes no commit' +
        (isReal ? '' : ' (test server: it stops at the failed guard; Cosmos DB rollback is not exercised)'),
      async () => {
        const orderId = newStreamId('guard');
        await store.append(orderId, 0, [event('A', 1)]);
        const items: Items = connection.events.items;
        const original = items.batch.bind(items);
        let batches = 0;
        // Another writer touches the head between the adapter's read of its etag and the batch.
        items.batch = async (...args: Parameters<Items['batch']>) => {
          batches++;
          const head = (await connection.events.item('head', orderId).read()).resource;
          await connection.events.item('head', orderId).replace({ ...head, touchedAt: Date.now() });
          return original(...args);
        };
        try {
          await expect(store.append(orderId, 1, [event('B', 2)])).rejects.toBeInstanceOf(
            WrongExpectedVersionError,
          );
        } finally {
          items.batch = original;
        }
        expect(batches).toBe(2); // the stale remembered etag, then a fresh one: both refused
        expect((await commitsOf(orderId)).map((c) => c.id)).toEqual(['0000000000']);
        expect((await headOf(orderId))?.version).toBe(1);
        expect((await store.readStream(orderId)).version).toBe(1);
      },
    );

    it('refuses creating the head of an order that exists (409) and writes no commit', async () => {
      const orderId = newStreamId('guard0');
      await store.append(orderId, 0, [event('A', 1)]);
      const err = await store.append(orderId, 0, [event('B', 2)]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WrongExpectedVersionError);
      expect(err).toMatchObject({ expectedVersion: 0, actualVersion: 1 });
      expect((await commitsOf(orderId)).map((c) => c.id)).toEqual(['0000000000']);
    });

    it(
      isReal
        ? 'rolls the head back when the commit of the batch fails (atomic batch)'
        : 'test server only: a commit failing after the guard leaves the head moved (no atomic batch there), and the adapter still reports the conflict',
      async () => {
        const orderId = newStreamId('atomic');
        await store.append(orderId, 0, [event('A', 1)]);
        // A commit at version 1 written behind the adapter's back makes the batch's second operation fail (409).
        await connection.events.items.create({
          id: '0000000001',
          orderId,
          kind: 'commit',
          i: 1,
          n: 2,
          e: [event('Intruder', 0)],
          recordedAt: new Date().toISOString(),
        });
        await expect(store.append(orderId, 1, [event('B', 2)])).rejects.toBeInstanceOf(
          WrongExpectedVersionError,
        );
        expect((await headOf(orderId))?.version).toBe(isReal ? 1 : 2);
      },
    );

    it(
      'lets exactly one of 20 concurrent writers win; the losers get WrongExpectedVersionError; versions stay contiguous' +
        (isReal
          ? ''
          : ' (test server: proves the etag guard, since it applies a batch without interleaving)'),
      async () => {
        const orderId = newStreamId('race');
        await store.append(orderId, 0, [event('A', 1)]);
        const writers = Array.from({ length: 20 }, (_, k) =>
          storeWith('changefeed').append(orderId, 1, [event('W', k), event('W', k)]),
        );
        const results = await Promise.allSettled(writers);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results.filter((x) => x.status === 'rejected')) {
          expect((r as PromiseRejectedResult).reason).toBeInstanceOf(WrongExpectedVersionError);
        }
        expect((await commitsOf(orderId)).map((c) => [c.i, c.n])).toEqual([
          [0, 1],
          [1, 3],
        ]);
        expect((await store.readStream(orderId)).events.map((e) => e.version)).toEqual([1, 2, 3]);
      },
    );

    it('refuses a commit over the 2 MB item limit before sending anything (CommitTooLargeError, 413 on the API)', async () => {
      const orderId = newStreamId('big');
      await store.append(orderId, 0, [event('A', 1)]);
      charges.length = 0;
      const big = { ...event('Big', 2), data: { blob: 'x'.repeat(2 * 1024 * 1024) } };
      await expect(store.append(orderId, 1, [big])).rejects.toBeInstanceOf(CommitTooLargeError);
      expect(charges.map((c) => c.operation)).not.toContain('events.append');
      expect((await store.readStream(orderId)).version).toBe(1);
    });

    it('reports the request charge (RU) of every operation to onRequestCharge', async () => {
      const orderId = newStreamId('ru');
      const fresh = storeWith(isReal ? 'changefeed' : 'test-server-scan');
      charges.length = 0;
      await fresh.append(orderId, 0, [event('A', 1)]);
      await fresh.readStream(orderId);
      await fresh.append(orderId, 1, [event('B', 2)]);
      await fresh.setCheckpoint(`ru-${orderId}`, 'x');
      await fresh.getCheckpoint(`ru-${orderId}`);
      expect(charges.map((c) => c.operation)).toEqual([
        'events.append', // create: no head read before the first commit
        'events.readHead',
        'events.queryCommits',
        'events.append', // the head's etag is remembered from the read: no second head read
        'leases.setCheckpoint',
        'leases.getCheckpoint',
      ]);
      expect(charges.every((c) => c.ru > 0)).toBe(true);
    });

    it('runs a command on one point read of the head and one batch, however long the stream', async () => {
      const orders = new OrderService(store);
      const orderId = newStreamId('cost');
      const at = '2026-01-02T10:00:00.000Z';
      const line = { productId: 'p-1', quantity: 1, unitPrice: '1.00', currency: 'BRL' };
      await orders.handle(orderId, { type: 'CreateOrder', customerId: 'c-1', occurredAt: at });
      for (let k = 0; k < 30; k++) await orders.handle(orderId, { type: 'AddProduct', line, occurredAt: at });
      const fresh = new OrderService(storeWith(isReal ? 'changefeed' : 'test-server-scan'));
      charges.length = 0;
      const result = await fresh.handle(orderId, { type: 'AddProduct', line, occurredAt: at });
      expect(result.version).toBe(32);
      expect(result.state.lines).toEqual([{ ...line, quantity: 31 }]);
      // The head read gives the version, its etag (the batch's guard) and the state: no query of the commits.
      expect(charges.map((c) => c.operation)).toEqual(['events.readHead', 'events.append']);
    });

    it('reads a page of the audit trail with a head read and one query in the partition, on indexed i and n', async () => {
      const orderId = newStreamId('page');
      let v = 0;
      for (let k = 0; k < 20; k++)
        v = (await store.append(orderId, v, [event('A', v + 1), event('B', v + 2)])).version;
      charges.length = 0;
      const page = await store.readEvents(orderId, 25, 4);
      expect(page.events.map((e) => e.version)).toEqual([26, 27, 28, 29]);
      expect(charges.map((c) => c.operation)).toEqual(['events.readHead', 'events.queryPage']);
      const policy = (await connection.events.read()).resource?.indexingPolicy;
      expect(policy?.includedPaths?.map((p) => p.path)).toEqual(expect.arrayContaining(['/i/?', '/n/?']));
    });

    it('writes the commit with a head without snapshot when the snapshot would break the item or batch limit', async () => {
      const orderId = newStreamId('bigsnap');
      // A 1.5 MB commit leaves no room in the 2 MB batch for a 1 MB snapshot: the commit is written, bare head.
      const big = { ...event('Big', 1), data: { blob: 'x'.repeat(1_500_000) } };
      const state = { blob: 'y'.repeat(1_000_000) };
      await store.append(orderId, 0, [big], { snapshot: { schema: 's', state } });
      expect(await store.readHead(orderId)).toEqual({ version: 1 });
      expect((await commitsOf(orderId)).map((c) => c.n)).toEqual([1]);
      // Alone in its head, the 1 MB snapshot fits; a 2.5 MB one does not and is not written.
      expect(await store.saveSnapshot(orderId, { schema: 's', version: 1, state })).toBe(true);
      expect((await store.readHead(orderId))?.snapshot?.version).toBe(1);
      const huge = { blob: 'z'.repeat(2_500_000) };
      expect(await store.saveSnapshot(orderId, { schema: 's', version: 1, state: huge })).toBe(false);
      await store.append(orderId, 1, [event('Small', 2)], { snapshot: { schema: 's', state: huge } });
      expect(await store.readHead(orderId)).toEqual({ version: 2 });
    });

    it(
      isReal
        ? 'reads new commits through the pull-model change feed, heads skipped, resumable from the continuation token'
        : 'test server only: its change feed is a stub; the pull-model readFeed gets the documents there at the first read, then only 304 (why the host uses test-server-scan there)',
      async () => {
        const feed = storeWith('changefeed');
        const orderId = newStreamId('feed');
        await feed.append(orderId, 0, [event('A', 1)]);
        let position: string | undefined;
        const seen: string[] = [];
        for (;;) {
          const page = await feed.readFeed(position, 100);
          expect(page.commits.every((c) => c.kind === 'commit')).toBe(true);
          seen.push(...page.commits.filter((c) => c.orderId === orderId).map((c) => c.id));
          position = page.position;
          if (page.commits.length === 0) break;
        }
        expect(seen).toEqual(['0000000000']);
        expect(position).toMatch(/^\{/); // the SDK's continuation token
        await feed.append(orderId, 1, [event('B', 2)]);
        const next = await feed.readFeed(position, 100);
        const ids = next.commits.filter((c) => c.orderId === orderId).map((c) => c.id);
        expect(ids).toEqual(isReal ? ['0000000001'] : []);
      },
    );
  });
}

adapterDetails('@vercel/cosmosdb-server', false, async () => {
  const server = await startCosmosTestServer();
  const connection = await server.connect();
  return { connection, dispose: () => server.stop() };
});

if (real) {
  adapterDetails(`account ${real.COSMOS_ENDPOINT}`, true, async () => {
    const { connection, drop } = await connectReal(real);
    return { connection, dispose: drop };
  });
}
