import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anonymous, authAs, call, eventually, startTestHost, TestHost } from '../support/host';

/**
 * Issue 13: the routes the dashboard reads, over HTTP on the real local host: who the caller is
 * (`GET /api/me`), the order flow now (`GET /api/overview`), the latest events (`GET /api/events/recent`), the
 * orders behind a funnel step's drop-off (`GET /api/analytics/funnel/drop-offs`), and the page itself at `/`.
 */

let host: TestHost;
const tokens: Record<string, string> = {};
const as = (who: string) => authAs(tokens[who]);
let seq = 0;
const newId = (p: string) => `${p}-${process.pid}-${Date.now().toString(36)}-${seq++}`;

beforeAll(async () => {
  host = await startTestHost();
  tokens.customer = await host.token({ sub: 'customer-7', roles: [] });
  tokens.reader = await host.token({ sub: 'bob', name: 'Bob', roles: ['orders.read'] });
  tokens.approver = await host.token({ sub: 'ana', roles: ['orders.approve'] });
});
afterAll(async () => {
  await host?.stop();
});

/** Creates an order with one line and submits it; resolves its id. */
async function submittedOrder(customerId: string): Promise<string> {
  const orderId = newId('ov');
  expect((await call(host, 'POST', '/api/orders', { orderId, customerId })).status).toBe(201);
  const line = { productId: 'sku-1', quantity: 1, unitPrice: '5.00', currency: 'EUR' };
  expect((await call(host, 'POST', `/api/orders/${orderId}/items`, line)).status).toBe(200);
  expect((await call(host, 'POST', `/api/orders/${orderId}/submit`)).status).toBe(202);
  return orderId;
}

describe('who am I (GET /api/me)', () => {
  it('names the caller with their roles, and whether they read orders as a customer', async () => {
    expect((await call(host, 'GET', '/api/me', undefined, as('reader'))).body).toEqual({
      id: 'bob',
      name: 'Bob',
      roles: ['orders.read'],
      customer: false,
    });
    expect((await call(host, 'GET', '/api/me', undefined, as('customer'))).body).toMatchObject({
      id: 'customer-7',
      roles: [],
      customer: true,
    });
    // An approver reads every order (to decide from its story); an id that cannot be a customer id is no customer.
    expect((await call(host, 'GET', '/api/me', undefined, as('approver'))).body.customer).toBe(false);
    const mail = await host.token({ sub: 'cfo@example.com', roles: [] });
    expect((await call(host, 'GET', '/api/me', undefined, authAs(mail))).body.customer).toBe(false);
  });

  it('answers 401 problem+json to an anonymous caller', async () => {
    const res = await call(host, 'GET', '/api/me', undefined, anonymous);
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});

describe('the overview (GET /api/overview)', () => {
  it('counts a new order by status and its commands in the current minute, and shows each change-feed consumer caught up', async () => {
    const before = (await call(host, 'GET', '/api/overview?minutes=5', undefined, as('reader'))).body;
    expect(before.throughput.perMinute).toHaveLength(5);
    const orderId = await submittedOrder('customer-7');
    // The acceptance accepts it (no threshold set), and the read model follows the change feed.
    const after = await eventually(async () => {
      const res = await call(host, 'GET', '/api/overview?minutes=5', undefined, as('reader'));
      const accepted = res.body.ordersByStatus.find((s: { status: string }) => s.status === 'accepted');
      const before_ = before.ordersByStatus.find((s: { status: string }) => s.status === 'accepted');
      const caught = res.body.changeFeed.every((c: { lagSeconds: number | null }) => c.lagSeconds === 0);
      return accepted.count === before_.count + 1 && caught ? res.body : undefined;
    });
    const sum = (
      o: { throughput: { perMinute: { commits: number; events: number }[] } },
      k: 'commits' | 'events',
    ) => o.throughput.perMinute.reduce((n, m) => n + m[k], 0);
    // create, add a line, submit, then the acceptance's OrderAccepted: at least 4 commits and events more.
    expect(sum(after, 'commits') - sum(before, 'commits')).toBeGreaterThanOrEqual(4);
    expect(sum(after, 'events') - sum(before, 'events')).toBeGreaterThanOrEqual(4);
    expect(after.headRecordedAt >= before.headRecordedAt || before.headRecordedAt === null).toBe(true);
    const consumers = after.changeFeed.map((c: { consumer: string }) => c.consumer);
    expect(consumers).toEqual(expect.arrayContaining(['orderReadModelProjection', 'eventGridRelay']));
    expect(after.deadLetters).toEqual([
      { channel: 'publisher', count: 0 },
      { channel: 'parked', count: 0 },
    ]);
    expect(after.ordersByStatus.map((s: { status: string }) => s.status)).toEqual([
      'draft',
      'submitted',
      'accepted',
      'rejected',
      'cancelled',
      'shipped',
      'delivered',
    ]);
    expect(orderId).toBeTruthy();
  });

  it('refuses a customer (403), and minutes outside 1-180 (400 naming query.minutes)', async () => {
    expect((await call(host, 'GET', '/api/overview', undefined, as('customer'))).status).toBe(403);
    for (const minutes of ['0', '181', 'x']) {
      const res = await call(host, 'GET', `/api/overview?minutes=${minutes}`, undefined, as('reader'));
      expect(res.status).toBe(400);
      expect(res.body.errors[0].field).toBe('query.minutes');
    }
  });
});

describe('the latest events (GET /api/events/recent)', () => {
  it('lists the newest events first, and only the asked types', async () => {
    const orderId = await submittedOrder('customer-8');
    const all = await eventually(async () => {
      const res = await call(host, 'GET', '/api/events/recent?limit=200', undefined, as('reader'));
      return res.body.items.some((e: { orderId: string }) => e.orderId === orderId) ? res.body : undefined;
    });
    const times = all.items.map((e: { recordedAt: string }) => e.recordedAt);
    expect(times).toEqual([...times].sort().reverse());
    const mine = all.items.filter((e: { orderId: string }) => e.orderId === orderId);
    expect(mine.slice(-3).map((e: { type: string; version: number }) => [e.type, e.version])).toEqual([
      ['OrderSubmitted', 3],
      ['ProductAddedToOrder', 2],
      ['OrderCreated', 1],
    ]);
    expect(mine.at(-1).actor).toBe('user:support');

    const created = await call(
      host,
      'GET',
      '/api/events/recent?types=OrderCreated&limit=2',
      undefined,
      as('reader'),
    );
    expect(created.body.items.length).toBeGreaterThan(0);
    expect(created.body.items.length).toBeLessThanOrEqual(2);
    for (const e of created.body.items) expect(e.type).toBe('OrderCreated');
  });

  it('refuses a customer (403), an unknown type and a repeated parameter (400)', async () => {
    expect((await call(host, 'GET', '/api/events/recent', undefined, as('customer'))).status).toBe(403);
    const bad = await call(host, 'GET', '/api/events/recent?types=Nope', undefined, as('reader'));
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toMatch(/^query\.types/);
    const twice = await call(host, 'GET', '/api/events/recent?limit=1&limit=2', undefined, as('reader'));
    expect(twice.status).toBe(400);
  });
});

describe('the orders behind a drop-off (GET /api/analytics/funnel/drop-offs)', () => {
  it("lists who reached a step but not the next, as many as the next step's dropOff", async () => {
    const stalled = newId('stall');
    expect(
      (await call(host, 'POST', '/api/orders', { orderId: stalled, customerId: 'customer-9' })).status,
    ).toBe(201);
    const query = 'steps=OrderCreated,ProductAddedToOrder';
    const drop = await eventually(async () => {
      const res = await call(
        host,
        'GET',
        `/api/analytics/funnel/drop-offs?${query}&step=1`,
        undefined,
        as('reader'),
      );
      const ids = res.body.items.flatMap((i: { orderIds: string[] }) => i.orderIds);
      return ids.includes(stalled) ? res.body : undefined;
    });
    const funnel = (await call(host, 'GET', `/api/analytics/funnel?${query}`, undefined, as('reader'))).body;
    expect(drop).toMatchObject({ step: 1, eventType: 'OrderCreated', nextEventType: 'ProductAddedToOrder' });
    expect(drop.total).toBe(funnel.steps[1].dropOff);
    expect(drop.items.find((i: { orderIds: string[] }) => i.orderIds.includes(stalled)).customerId).toBe(
      'customer-9',
    );
    const last = await call(
      host,
      'GET',
      `/api/analytics/funnel/drop-offs?${query}&step=2`,
      undefined,
      as('reader'),
    );
    expect(last.body).toMatchObject({ nextEventType: null, total: 0, items: [] });
  });

  it('refuses a missing step, a step beyond the steps, and a customer', async () => {
    const missing = await call(host, 'GET', '/api/analytics/funnel/drop-offs', undefined, as('reader'));
    expect(missing.status).toBe(400);
    expect(missing.body.errors[0].field).toBe('query.step');
    const beyond = await call(
      host,
      'GET',
      '/api/analytics/funnel/drop-offs?steps=OrderCreated&step=2',
      undefined,
      as('reader'),
    );
    expect(beyond.status).toBe(400);
    expect(beyond.body.errors[0].field).toBe('query.step');
    expect(
      (await call(host, 'GET', '/api/analytics/funnel/drop-offs?step=1', undefined, as('customer'))).status,
    ).toBe(403);
  });
});

describe('the page (GET /)', () => {
  it('serves the built dashboard at / with its assets, cached by content, under a strict content security policy', async () => {
    const res = await fetch(host.baseUrl + '/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const html = await res.text();
    const assets = [...html.matchAll(/(?:src|href)="(?:\.\/|\/)?(assets\/[^"]+)"/g)].map((m) => m[1]);
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) {
      const a = await fetch(`${host.baseUrl}/${asset}`);
      expect(a.status, asset).toBe(200);
      expect(a.headers.get('cache-control')).toContain('immutable');
      await a.arrayBuffer();
    }
    const head = await fetch(host.baseUrl + '/', { method: 'HEAD' });
    expect(head.status).toBe(200);
  });

  it('serves no other file: traversal, unknown names and /api answer 404 problem+json; a write answers 405', async () => {
    for (const path of [
      '/nope.html',
      '/assets/nope.js',
      '/assets/..%2F..%2Fpackage.json',
      '/..%2Fhost.json',
      '/api',
    ]) {
      const res = await call(host, 'GET', path, undefined, anonymous);
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type'), path).toMatch(/^application\/problem\+json/);
    }
    expect((await call(host, 'POST', '/', {}, anonymous)).status).toBe(405);
    // An API route asked with a method it does not serve still answers 405, not the page.
    expect((await call(host, 'GET', '/api/orders/x/submit', undefined, anonymous)).status).toBe(405);
  });
});
