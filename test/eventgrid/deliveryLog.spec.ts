import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, eventually, startTestHost, TestHost } from '../support/host';
import { startSubscriber } from '../support/subscriber';

/**
 * The local topic's delivery log and its local-only read routes, over HTTP on the real local host: orders
 * created through the API reach webhooks that deliver after one failure (`flaky`), never deliver (`broken`,
 * retried on a scaled schedule, so still pending), or refuse with a status Event Grid does not retry
 * (`rejecting`, dead-lettered at once).
 */

const scale = 0.002; // 10 s → 20 ms, 30 s → 60 ms; the time to live, 1440 min → 173 s
const created = 'com.contoso.orders.OrderCreated.v2';
let host: TestHost;
let subscriber: Awaited<ReturnType<typeof startSubscriber>>;
const orderIds: string[] = [];

interface Item {
  subscription: string;
  eventId: string;
  type: string;
  subject: string;
  attempt: number;
  outcome: string;
  status?: number;
  error?: string;
  at: string;
}

beforeAll(async () => {
  const attemptsBySubject = new Map<string, number>();
  subscriber = await startSubscriber({
    // Fails the first attempt of each event, delivers the second.
    '/flaky': (r) => {
      if (r.method !== 'POST') return { status: 200 }; // the handshake
      const subject = (JSON.parse(r.body) as { subject: string }).subject;
      const n = (attemptsBySubject.get(subject) ?? 0) + 1;
      attemptsBySubject.set(subject, n);
      return { status: n === 1 ? 500 : 200 };
    },
    '/broken': () => ({ status: 503 }),
    '/rejecting': () => ({ status: 400 }),
  });
  const file = join(mkdtempSync(join(tmpdir(), 'eg-log-')), 'subscriptions.json');
  const only = [created];
  writeFileSync(
    file,
    JSON.stringify([
      { name: 'flaky', endpointUrl: `${subscriber.base}/flaky`, includedEventTypes: only },
      { name: 'broken', endpointUrl: `${subscriber.base}/broken`, includedEventTypes: only },
      { name: 'rejecting', endpointUrl: `${subscriber.base}/rejecting`, includedEventTypes: only },
    ]),
  );
  host = await startTestHost({
    LOCAL_EVENTGRID_SUBSCRIPTIONS: file,
    LOCAL_RETRY_SCALE: String(scale),
    LOCAL_EVENTGRID_POLL_MS: '5',
  });
  for (const k of [1, 2]) {
    const orderId = `log-${Date.now()}-${k}`;
    expect((await call(host, 'POST', '/api/orders', { customerId: 'c-1', orderId })).status).toBe(201);
    orderIds.push(orderId);
  }
});
afterAll(async () => {
  await host?.stop();
  await subscriber?.close();
});

const deliveriesOf = async (orderId: string): Promise<Item[]> => {
  const res = await call(
    host,
    'GET',
    `/eventgrid/deliveries?subject=${encodeURIComponent(`orders/${orderId}`)}`,
  );
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return (res.body as { items: Item[] }).items;
};

describe('the delivery log of the local topic (GET /eventgrid/deliveries)', () => {
  it("records a failed attempt and the retry that delivered it, for the order's subject, newest first", async () => {
    const [orderId] = orderIds;
    const items = await eventually(async () => {
      const found = await deliveriesOf(orderId);
      return found.some((i) => i.subscription === 'flaky' && i.outcome === 'delivered') ? found : undefined;
    });
    const flaky = items.filter((i) => i.subscription === 'flaky');
    expect(flaky).toEqual([
      expect.objectContaining({ attempt: 2, outcome: 'delivered', status: 200 }),
      expect.objectContaining({
        attempt: 1,
        outcome: 'retrying',
        status: 500,
        error: 'subscriber answered 500',
      }),
    ]);
    expect(flaky[0]).not.toHaveProperty('error');
    for (const item of items) {
      expect(item).toMatchObject({ eventId: `${orderId}:1`, type: created, subject: `orders/${orderId}` });
      expect(new Date(item.at).toISOString()).toBe(item.at);
    }
    const times = items.map((i) => Date.parse(i.at));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    // The consumer functions take every event; theirs have no HTTP status.
    const functions = await eventually(async () => {
      const found = (await deliveriesOf(orderId)).filter((i) => i.subscription.startsWith('function-'));
      return found.length ? found : undefined;
    });
    expect(functions.every((i) => i.outcome === 'delivered' && i.status === undefined)).toBe(true);
  });

  it('lists only the attempts of the subject asked for', async () => {
    const [first, second] = orderIds;
    const items = await eventually(async () => {
      const found = await deliveriesOf(second);
      return found.some((i) => i.subscription === 'flaky' && i.outcome === 'delivered') ? found : undefined;
    });
    expect(items.every((i) => i.subject === `orders/${second}` && i.eventId.startsWith(`${second}:`))).toBe(
      true,
    );
    expect((await deliveriesOf(first)).every((i) => i.subject === `orders/${first}`)).toBe(true);
    expect(await deliveriesOf('no-such-order')).toEqual([]);
  });

  it('records a dead-lettered attempt with the status that ended it', async () => {
    const [orderId] = orderIds;
    const rejected = await eventually(async () => {
      const found = (await deliveriesOf(orderId)).filter((i) => i.subscription === 'rejecting');
      return found.length ? found : undefined;
    });
    expect(rejected).toEqual([
      expect.objectContaining({
        attempt: 1,
        outcome: 'deadLettered',
        status: 400,
        error: 'subscriber answered 400',
      }),
    ]);
  });

  it.each([
    ['no subject', 'query.subject', ''],
    ['an empty subject', 'query.subject', '?subject='],
    ['a subject over 200 characters', 'query.subject', `?subject=${'x'.repeat(201)}`],
    ['the subject twice', 'query.subject', '?subject=orders/a&subject=orders/b'],
    ['another parameter', 'query.limit', '?subject=orders/a&limit=5'],
  ])('refuses %s with 400 problem details naming %s', async (_case, field, query) => {
    const res = await call(host, 'GET', `/eventgrid/deliveries${query}`);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.body).toMatchObject({ status: 400, type: '/problems/validation' });
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    expect(res.body.detail).toContain(field);
  });

  it('takes a subject of exactly 200 characters', async () => {
    expect((await call(host, 'GET', `/eventgrid/deliveries?subject=${'x'.repeat(200)}`)).status).toBe(200);
  });

  it('answers another method with 405 and Allow: GET, and sends no CORS headers', async () => {
    const res = await call(host, 'POST', '/eventgrid/stats', {}, { origin: 'http://elsewhere.example' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET');
    const read = await call(host, 'GET', '/eventgrid/stats', undefined, {
      origin: 'http://elsewhere.example',
    });
    expect(read.status).toBe(200);
    expect([...read.headers.keys()].filter((h) => h.startsWith('access-control-'))).toEqual([]);
  });
});

describe('the delivery figures of the local topic (GET /eventgrid/stats)', () => {
  interface Stats {
    subscriptions: {
      name: string;
      pending: number;
      deliveredLastHour: number;
      failedAttemptsLastHour: number;
      deadLettered: number;
    }[];
    pending: number;
    failedAttemptsLastHour: number;
    deadLettered: number;
  }
  const stats = async (): Promise<Stats> => {
    const res = await call(host, 'GET', '/eventgrid/stats');
    expect(res.status).toBe(200);
    return res.body as Stats;
  };
  const of = (s: Stats, name: string) => s.subscriptions.find((x) => x.name === name)!;

  it('counts pending deliveries, failed attempts and dead letters per subscription, and their sums', async () => {
    const orders = orderIds.length;
    // Settled: flaky delivered every order after one failure, rejecting dead-lettered each, broken failed
    // each at least twice and keeps them queued for their next retry.
    const settled = await eventually(async () => {
      const s = await stats();
      const done =
        of(s, 'flaky').deliveredLastHour === orders &&
        of(s, 'rejecting').deadLettered === orders &&
        of(s, 'broken').failedAttemptsLastHour >= 2 * orders;
      return done ? s : undefined;
    });
    expect(settled.subscriptions.map((x) => x.name)).toEqual(
      expect.arrayContaining(['flaky', 'broken', 'rejecting']),
    );
    expect(of(settled, 'flaky')).toEqual({
      name: 'flaky',
      pending: 0,
      deliveredLastHour: orders,
      failedAttemptsLastHour: orders,
      deadLettered: 0,
    });
    expect(of(settled, 'rejecting')).toEqual({
      name: 'rejecting',
      pending: 0,
      deliveredLastHour: 0,
      failedAttemptsLastHour: orders,
      deadLettered: orders,
    });
    expect(of(settled, 'broken')).toMatchObject({ pending: orders, deliveredLastHour: 0, deadLettered: 0 });
    const sum = (pick: (x: Stats['subscriptions'][number]) => number) =>
      settled.subscriptions.reduce((n, x) => n + pick(x), 0);
    expect(settled.pending).toBe(sum((x) => x.pending));
    expect(settled.failedAttemptsLastHour).toBe(sum((x) => x.failedAttemptsLastHour));
    expect(settled.deadLettered).toBe(sum((x) => x.deadLettered));
  });

  it("counts as failed attempts of a subscription exactly the log's failed attempts", async () => {
    // broken keeps being retried: read both until no attempt came between the two reads.
    const matched = await eventually(async () => {
      const s = await stats();
      const logged = (await Promise.all(orderIds.map(deliveriesOf)))
        .flat()
        .filter((i) => i.subscription === 'broken');
      const after = await stats();
      if (of(after, 'broken').failedAttemptsLastHour !== of(s, 'broken').failedAttemptsLastHour)
        return undefined;
      return { s, logged };
    });
    expect(matched.logged.every((i) => i.outcome === 'retrying' && i.status === 503)).toBe(true);
    expect(of(matched.s, 'broken').failedAttemptsLastHour).toBe(matched.logged.length);
  });

  it('refuses a query parameter with 400 problem details naming it', async () => {
    const res = await call(host, 'GET', '/eventgrid/stats?window=1h');
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.body.errors[0].field).toBe('query.window');
  });
});
