import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, eventually, startTestHost, TestHost } from '../support/host';

let host: TestHost;
beforeAll(async () => {
  host = await startTestHost();
});
afterAll(async () => {
  await host?.stop();
});

const newId = (p: string) => `${p}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;

async function createOrder(orderId = newId('o')) {
  const res = await call(host, 'POST', '/api/orders', { customerId: 'cust-1', orderId });
  expect(res.status).toBe(201);
  return orderId;
}

describe('order API over HTTP on the local host', () => {
  it('answers health', async () => {
    const res = await call(host, 'GET', '/api/health');
    expect(res).toMatchObject({ status: 200, body: { status: 'ok', eventStore: 'sqlite' } });
  });

  it('creates an order with Location and ETag, and a repeat with the same orderId creates nothing', async () => {
    const orderId = newId('o');
    const first = await call(host, 'POST', '/api/orders', {
      customerId: 'cust-1',
      orderId,
      referralCode: 'ref-7',
    });
    expect(first.status).toBe(201);
    expect(first.headers.get('location')).toBe(`/api/orders/${orderId}`);
    expect(first.headers.get('etag')).toBe('"1"');
    expect(first.body).toMatchObject({ orderId, version: 1, status: 'draft', referralCode: 'ref-7' });
    const again = await call(host, 'POST', '/api/orders', {
      customerId: 'cust-1',
      orderId,
      referralCode: 'ref-7',
    });
    expect(again.status).toBe(200);
    expect(again.body.version).toBe(1);
    const other = await call(host, 'POST', '/api/orders', { customerId: 'cust-2', orderId });
    expect(other.status).toBe(409);
  });

  it('generates an orderId when the client does not choose one', async () => {
    const res = await call(host, 'POST', '/api/orders', { customerId: 'cust-1' });
    expect(res.status).toBe(201);
    expect(res.body.orderId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('runs the order life cycle: items, removal, submit, audit trail', async () => {
    const orderId = await createOrder();
    const add = await call(host, 'POST', `/api/orders/${orderId}/items`, {
      productId: 'p-1',
      quantity: 2,
      unitPrice: '199.0',
      currency: 'BRL',
      sellerId: 's-1',
    });
    expect(add.status).toBe(200);
    expect(add.body).toMatchObject({ version: 2, total: '398.00', currency: 'BRL', itemCount: 2 });
    expect(add.body.lines[0]).toMatchObject({ unitPrice: '199.00', lineTotal: '398.00' });
    await call(host, 'POST', `/api/orders/${orderId}/items`, {
      productId: 'p-2',
      quantity: 1,
      unitPrice: '1.05',
      currency: 'BRL',
    });
    const removed = await call(host, 'DELETE', `/api/orders/${orderId}/items/p-2`, undefined, {
      'if-match': '"3"',
    });
    expect(removed).toMatchObject({ status: 200, body: { version: 4, total: '398.00' } });
    const absent = await call(host, 'DELETE', `/api/orders/${orderId}/items/p-2`);
    expect(absent).toMatchObject({ status: 200, body: { version: 4 } });
    const submitted = await call(host, 'POST', `/api/orders/${orderId}/submit`, undefined, {
      'if-match': '"4"',
    });
    expect(submitted).toMatchObject({
      status: 202,
      body: { status: 'submitted', version: 5, acceptance: { instanceId: `acceptance-${orderId}` } },
    });
    expect(submitted.headers.get('location')).toBe(`/api/orders/${orderId}/acceptance`);
    const late = await call(host, 'POST', `/api/orders/${orderId}/items`, {
      productId: 'p-3',
      quantity: 1,
      unitPrice: '1',
      currency: 'BRL',
    });
    expect(late.status).toBe(409);
    expect(late.headers.get('content-type')).toBe('application/problem+json');

    const trail = await call(host, 'GET', `/api/orders/${orderId}/events`);
    expect(trail.status).toBe(200);
    // The acceptance orchestration appends its events after these, asynchronously.
    expect(
      trail.body.events.slice(0, 5).map((e: { type: string; version: number }) => [e.type, e.version]),
    ).toEqual([
      ['OrderCreated', 1],
      ['ProductAddedToOrder', 2],
      ['ProductAddedToOrder', 3],
      ['ProductRemovedFromOrder', 4],
      ['OrderSubmitted', 5],
    ]);
    const first = trail.body.events[0];
    expect(first).toMatchObject({
      schemaVersion: 2,
      data: { customerId: 'cust-1' },
      metadata: { actor: 'user:support' },
    });
    expect(Date.parse(first.occurredAt)).not.toBeNaN();
    expect(Date.parse(first.recordedAt)).not.toBeNaN();
  });

  it('records only well-formed trace headers, and the verified identity as the actor (a principal header sent locally is ignored)', async () => {
    const orderId = newId('meta');
    await call(
      host,
      'POST',
      '/api/orders',
      { customerId: 'cust-1', orderId },
      {
        traceparent: '00-00000000000000000000000000000000-0000000000000000-01',
        'x-correlation-id': 'has spaces',
        'x-ms-client-principal-name': 'orchestration:orderAcceptance',
      },
    );
    const [created] = (await call(host, 'GET', `/api/orders/${orderId}/events`)).body.events;
    expect(created.metadata.traceparent).toBeUndefined();
    expect(created.metadata.correlationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata.actor).toBe('user:support');
  });

  it('answers a stale If-Match with 412 and appends nothing', async () => {
    const orderId = await createOrder();
    const line = { productId: 'p-1', quantity: 1, unitPrice: '5.00', currency: 'BRL' };
    expect(
      (await call(host, 'POST', `/api/orders/${orderId}/items`, line, { 'if-match': '"1"' })).status,
    ).toBe(200);
    const stale = await call(host, 'POST', `/api/orders/${orderId}/items`, line, { 'if-match': '"1"' });
    expect(stale.status).toBe(412);
    expect(stale.body).toMatchObject({ status: 412, currentVersion: 2 });
    const order = await call(host, 'GET', `/api/orders/${orderId}`);
    expect(order.headers.get('etag')).toBe('"2"');
  });

  it('shows the state as of a business time', async () => {
    const orderId = await createOrder();
    const before = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));
    await call(host, 'POST', `/api/orders/${orderId}/items`, {
      productId: 'p-1',
      quantity: 3,
      unitPrice: '2.50',
      currency: 'BRL',
    });
    const then = await call(host, 'GET', `/api/orders/${orderId}?asOf=${encodeURIComponent(before)}`);
    expect(then).toMatchObject({ status: 200, body: { version: 1, total: '0.00', lines: [] } });
    expect(then.headers.get('etag')).toBe('"1"');
    const now = await call(host, 'GET', `/api/orders/${orderId}`);
    expect(now.body).toMatchObject({ version: 2, total: '7.50' });
    const beforeCreation = await call(host, 'GET', `/api/orders/${orderId}?asOf=2000-01-01T00:00:00Z`);
    expect(beforeCreation.status).toBe(404);
  });

  it('cancels until shipped, with the reason', async () => {
    const orderId = await createOrder();
    const res = await call(host, 'POST', `/api/orders/${orderId}/cancel`, { reason: 'found it cheaper' });
    expect(res).toMatchObject({
      status: 200,
      body: { status: 'cancelled', cancellationReason: 'found it cheaper' },
    });
  });

  it('replays the first answer for a repeated Idempotency-Key and appends nothing', async () => {
    const orderId = await createOrder();
    const line = { productId: 'p-1', quantity: 1, unitPrice: '5.00', currency: 'BRL' };
    const headers = { 'idempotency-key': newId('key') };
    const first = await call(host, 'POST', `/api/orders/${orderId}/items`, line, headers);
    const second = await call(host, 'POST', `/api/orders/${orderId}/items`, line, headers);
    expect(second.status).toBe(first.status);
    expect(second.body).toEqual(first.body);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect((await call(host, 'GET', `/api/orders/${orderId}`)).body.version).toBe(2);
    const reused = await call(
      host,
      'POST',
      `/api/orders/${orderId}/items`,
      { ...line, quantity: 2 },
      headers,
    );
    expect(reused.status).toBe(422);
    const otherSpelling = await call(host, 'POST', `/api/ORDERS/${orderId}/items/`, line, headers);
    expect(otherSpelling.headers.get('idempotent-replayed')).toBe('true');
    expect((await call(host, 'GET', `/api/orders/${orderId}`)).body.version).toBe(2);
  });

  it('lists orders from the read model, filtered and paged', async () => {
    const customerId = newId('cust');
    const ids: string[] = [];
    for (let k = 0; k < 5; k++) {
      const res = await call(host, 'POST', '/api/orders', { customerId, orderId: newId('list') });
      ids.push(res.body.orderId);
    }
    await call(host, 'POST', `/api/orders/${ids[0]}/cancel`, { reason: 'test' });
    const seen = await eventually(async () => {
      const page = await call(host, 'GET', `/api/orders?customerId=${customerId}&limit=100`);
      const cancelled = page.body.items.find((o: { status: string }) => o.status === 'cancelled');
      return page.body.items.length === 5 && cancelled ? page.body.items : undefined;
    });
    expect(seen).toHaveLength(5);
    const collected: string[] = [];
    let token: string | undefined;
    do {
      const qs = `customerId=${customerId}&limit=2${token ? `&continuationToken=${encodeURIComponent(token)}` : ''}`;
      const page = await call(host, 'GET', `/api/orders?${qs}`);
      expect(page.status).toBe(200);
      collected.push(...page.body.items.map((o: { orderId: string }) => o.orderId));
      token = page.body.continuationToken;
    } while (token);
    expect(collected.sort()).toEqual([...ids].sort());
    const unset = await call(
      host,
      'GET',
      `/api/orders?status=&customerId=${customerId}&limit=&continuationToken=`,
    );
    expect(unset.body.items).toHaveLength(5);
    const cancelled = await call(host, 'GET', `/api/orders?customerId=${customerId}&status=cancelled`);
    expect(cancelled.body.items.map((o: { orderId: string }) => o.orderId)).toEqual([ids[0]]);
  });

  it('serves an OpenAPI 3.1 document generated from the schemas', async () => {
    const res = await call(host, 'GET', '/api/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    expect(Object.keys(res.body.paths)).toEqual(
      expect.arrayContaining(['/api/orders', '/api/orders/{orderId}', '/api/orders/{orderId}/items']),
    );
    expect(res.body.components.schemas.AddItemRequest.required).toEqual(
      expect.arrayContaining(['productId', 'quantity', 'unitPrice', 'currency']),
    );
  });
});
