import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retryScheduleSeconds } from '../../src/local/eventGrid/subscriptions';
import { FileDeadLetterStore } from '../../src/adapters/fs/fileDeadLetterStore';
import { call, eventually, startTestHost, TestHost } from '../support/host';
import { startSubscriber } from '../support/subscriber';

const scale = 0.002; // 10 s → 20 ms, 30 s → 60 ms, 1 min → 120 ms
let host: TestHost;
let subscriber: Awaited<ReturnType<typeof startSubscriber>>;
let orderId: string;

beforeAll(async () => {
  subscriber = await startSubscriber({
    '/flaky': (_r, attempt) => ({ status: attempt <= 3 ? 500 : 200 }),
    '/broken': () => ({ status: 503 }),
    '/rejecting': () => ({ status: 400 }),
    '/no-handshake': () => ({ status: 200, allowOrigin: null }),
  });
  const dir = mkdtempSync(join(tmpdir(), 'eg-subs-'));
  const file = join(dir, 'subscriptions.json');
  const only = ['com.contoso.orders.OrderCreated.v2'];
  writeFileSync(
    file,
    JSON.stringify([
      { name: 'flaky', endpointUrl: `${subscriber.base}/flaky`, includedEventTypes: only },
      {
        name: 'broken',
        endpointUrl: `${subscriber.base}/broken`,
        includedEventTypes: only,
        maxDeliveryAttempts: 3,
      },
      { name: 'rejecting', endpointUrl: `${subscriber.base}/rejecting`, includedEventTypes: only },
      {
        name: 'no-handshake',
        endpointUrl: `${subscriber.base}/no-handshake`,
        includedEventTypes: only,
        maxDeliveryAttempts: 2,
      },
    ]),
  );
  host = await startTestHost({
    LOCAL_EVENTGRID_SUBSCRIPTIONS: file,
    LOCAL_RETRY_SCALE: String(scale),
    LOCAL_EVENTGRID_POLL_MS: '5',
  });
  orderId = `wh-${Date.now()}`;
  await call(host, 'POST', '/api/orders', { customerId: 'c-1', orderId });
});
afterAll(async () => {
  await host?.stop();
  await subscriber?.close();
});

const deadLetters = (subscription: string) => {
  const letters = new FileDeadLetterStore(join(host.dataDir, 'dead-letters'));
  return eventually(async () => {
    const found = await letters.list(`eventgrid-${subscription}`);
    return found.length ? found : undefined;
  });
};

describe('webhook delivery from the local Event Grid topic', () => {
  it("retries a failing subscriber on Event Grid's schedule until it answers 2xx", async () => {
    const posts = await eventually(async () => {
      const p = subscriber.posts('/flaky');
      return p.length >= 4 ? p : undefined;
    });
    expect(posts).toHaveLength(4);
    expect(posts.map((p) => p.headers['aeg-delivery-count'])).toEqual(['0', '1', '2', '3']);
    // A lower bound only: a retry is scheduled from the failed answer, which comes after the subscriber
    // stamped the request, so a slow machine can widen a gap but never shorten it below the schedule.
    const gaps = posts.slice(1).map((p, k) => p.at - posts[k].at);
    gaps.forEach((gap, k) => expect(gap).toBeGreaterThanOrEqual(retryScheduleSeconds[k] * 1000 * scale - 5));
  });

  it('dead-letters after maxDeliveryAttempts, with the reason and the event', async () => {
    const [letter] = await deadLetters('broken');
    expect(subscriber.posts('/broken')).toHaveLength(3);
    expect(letter).toMatchObject({ attempts: 3, lastStatus: 503, event: { id: `${orderId}:1` } });
    expect(letter.reason).toMatch(/max delivery attempts \(3\)/);
  });

  it('dead-letters at once on a status Event Grid does not retry (400)', async () => {
    const [letter] = await deadLetters('rejecting');
    expect(subscriber.posts('/rejecting')).toHaveLength(1);
    expect(letter).toMatchObject({ attempts: 1, lastStatus: 400 });
  });

  it('sends no event to an endpoint that fails the handshake', async () => {
    const [letter] = await deadLetters('no-handshake');
    expect(subscriber.posts('/no-handshake')).toHaveLength(0);
    expect(
      subscriber.received.filter((r) => r.path === '/no-handshake' && r.method === 'OPTIONS'),
    ).toHaveLength(2);
    expect(letter.reason).toMatch(/handshake failed/);
  });
});
