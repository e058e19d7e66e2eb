import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CosmosConnection } from '../../src/adapters/cosmos/connection';
import { CosmosTestServer, startCosmosTestServer } from '../support/cosmosServer';
import { call, eventually, startTestHost, TestHost } from '../support/host';

/**
 * The order API over real HTTP with EVENT_STORE=cosmos: the local host (a child process) talks through the
 * real @azure/cosmos SDK to @vercel/cosmosdb-server, which this test process runs. The host trusts the
 * server's self-signed, expired certificate through COSMOS_TLS_INSECURE=true, a setting refused for any
 * endpoint not on this machine (narrower than NODE_TLS_REJECT_UNAUTHORIZED=0, which would switch off
 * certificate checks for every TLS connection of the child). The host's change feed runs in
 * test-server-scan mode, because this server's change feed is a stub (see src/adapters/cosmos/cosmosEventStore.ts).
 */

let server: CosmosTestServer;
let connection: CosmosConnection;
let host: TestHost;
beforeAll(async () => {
  server = await startCosmosTestServer();
  connection = await server.connect();
  host = await startTestHost({ ...server.env, LOG_LEVEL: 'debug' });
});
afterAll(async () => {
  await host?.stop();
  await server?.stop();
});

const newId = (p: string) => `${p}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
const line = (productId: string, quantity: number, unitPrice: string) => ({
  productId,
  quantity,
  unitPrice,
  currency: 'BRL',
});

describe('order API over HTTP on the local host with EVENT_STORE=cosmos (@vercel/cosmosdb-server)', () => {
  it('answers health with the cosmos event store', async () => {
    expect(await call(host, 'GET', '/api/health')).toMatchObject({
      status: 200,
      body: { status: 'ok', eventStore: 'cosmos' },
    });
  });

  it('creates an order, adds items, submits it, answers a stale If-Match with 412, and keeps the audit trail', async () => {
    const orderId = newId('cosmos');
    const created = await call(host, 'POST', '/api/orders', { customerId: 'cust-1', orderId });
    expect(created.status).toBe(201);
    expect(created.headers.get('etag')).toBe('"1"');
    const added = await call(host, 'POST', `/api/orders/${orderId}/items`, line('p-1', 2, '199.0'), {
      'if-match': '"1"',
    });
    expect(added).toMatchObject({ status: 200, body: { version: 2, total: '398.00' } });
    const stale = await call(host, 'POST', `/api/orders/${orderId}/items`, line('p-2', 1, '1.05'), {
      'if-match': '"1"',
    });
    expect(stale.status).toBe(412);
    expect(stale.headers.get('content-type')).toBe('application/problem+json');
    expect(stale.body).toMatchObject({ status: 412, currentVersion: 2 });
    await call(host, 'POST', `/api/orders/${orderId}/items`, line('p-2', 1, '1.05'), { 'if-match': '"2"' });
    const submitted = await call(host, 'POST', `/api/orders/${orderId}/submit`, undefined, {
      'if-match': '"3"',
    });
    // 200 today; 202 once submit starts the acceptance orchestration (decision flow of the brief).
    expect([200, 202]).toContain(submitted.status);
    expect(submitted.body).toMatchObject({ status: 'submitted', version: 4 });

    const trail = await call(host, 'GET', `/api/orders/${orderId}/events`);
    expect(trail.status).toBe(200);
    // The first four events are this test's commands; acceptance may append more after them.
    expect(
      trail.body.events.slice(0, 4).map((e: { type: string; version: number }) => [e.type, e.version]),
    ).toEqual([
      ['OrderCreated', 1],
      ['ProductAddedToOrder', 2],
      ['ProductAddedToOrder', 3],
      ['OrderSubmitted', 4],
    ]);
    const version = trail.body.version as number;

    // What the host wrote is in Cosmos DB: one commit per command plus the order's head.
    const { resources } = await connection.events.items
      .query<{ id: string; kind: string; n?: number; version?: number }>(
        { query: 'SELECT * FROM c WHERE c.orderId = @o', parameters: [{ name: '@o', value: orderId }] },
        { partitionKey: orderId },
      )
      .fetchAll();
    const commits = resources.filter((d) => d.kind === 'commit').sort((a, b) => a.id.localeCompare(b.id));
    expect(commits.slice(0, 4).map((d) => d.id)).toEqual([
      '0000000000',
      '0000000001',
      '0000000002',
      '0000000003',
    ]);
    expect(resources.find((d) => d.kind === 'head')?.version).toBe(version);
    expect(commits[commits.length - 1].n).toBe(version);
  });

  it('lets one of 10 concurrent writers with the same If-Match win; the rest get 412', async () => {
    const orderId = newId('race');
    await call(host, 'POST', '/api/orders', { customerId: 'c-1', orderId });
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, k) =>
        call(host, 'POST', `/api/orders/${orderId}/items`, line(`p-${k}`, 1, '1.00'), { 'if-match': '"1"' }),
      ),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 412)).toHaveLength(9);
    const trail = await call(host, 'GET', `/api/orders/${orderId}/events`);
    expect(trail.body.events.map((e: { version: number }) => e.version)).toEqual([1, 2]);
  });

  it('replays a repeated Idempotency-Key from the Cosmos DB key store', async () => {
    const orderId = newId('idem');
    await call(host, 'POST', '/api/orders', { customerId: 'c-1', orderId });
    const headers = { 'idempotency-key': newId('key') };
    const first = await call(host, 'POST', `/api/orders/${orderId}/items`, line('p-1', 1, '5.00'), headers);
    const second = await call(host, 'POST', `/api/orders/${orderId}/items`, line('p-1', 1, '5.00'), headers);
    expect(second.body).toEqual(first.body);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect((await call(host, 'GET', `/api/orders/${orderId}`)).body.version).toBe(2);
  });

  it('lists orders from the Cosmos DB read model that the change-feed function projects', async () => {
    const customerId = newId('cust');
    const ids: string[] = [];
    for (let k = 0; k < 3; k++) {
      const res = await call(host, 'POST', '/api/orders', { customerId, orderId: newId('list') });
      ids.push(res.body.orderId);
    }
    await call(host, 'POST', `/api/orders/${ids[0]}/cancel`, { reason: 'test' });
    const items = await eventually(async () => {
      const page = await call(host, 'GET', `/api/orders?customerId=${customerId}&limit=100`);
      const cancelled = page.body.items?.find((o: { status: string }) => o.status === 'cancelled');
      return page.body.items?.length === 3 && cancelled ? page.body.items : undefined;
    });
    expect(items.map((o: { orderId: string }) => o.orderId).sort()).toEqual([...ids].sort());
    const page1 = await call(host, 'GET', `/api/orders?customerId=${customerId}&limit=2`);
    expect(page1.body.items).toHaveLength(2);
    const page2 = await call(
      host,
      'GET',
      `/api/orders?customerId=${customerId}&limit=2&continuationToken=${encodeURIComponent(page1.body.continuationToken)}`,
    );
    expect(
      [...page1.body.items, ...page2.body.items].map((o: { orderId: string }) => o.orderId).sort(),
    ).toEqual([...ids].sort());
  });

  it('logs the request charge of Cosmos DB operations at debug level', () => {
    const log = host.logs.join('');
    expect(log).toMatch(/debug \[worker\] \[cosmos\] events\.append: \d+(\.\d+)? RU/);
    expect(log).toMatch(/debug \[worker\] \[cosmos\] events\.readHead: \d+(\.\d+)? RU/);
    expect(log).toMatch(/test-server-scan/);
  });
});
