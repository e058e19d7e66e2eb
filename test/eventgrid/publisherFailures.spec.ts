import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileDeadLetterStore } from '../../src/adapters/fs/fileDeadLetterStore';
import { openDatabase } from '../../src/adapters/sqlite/database';
import { SqliteEventStore } from '../../src/adapters/sqlite/sqliteEventStore';
import { call, eventually, startTestHost, TestHost } from '../support/host';
import { startSubscriber } from '../support/subscriber';

/**
 * `fail`: 500; `hang`: no answer; `forward-then-fail`: the stand-in forwards every batch to the host's own
 * topic, but answers the first attempt of each batch with 500, so every event is delivered twice.
 */
type Mode = 'fail' | 'hang' | 'forward-then-fail';
let mode: Mode = 'fail';
let host: TestHost;
let topic: Awaited<ReturnType<typeof startSubscriber>>;
const localKey = 'test-local-topic-key';
const published = new Map<string, number>();
const failedOnce = new Set<string>();

beforeAll(async () => {
  // A stand-in topic in front of the host's own one: it fails, hangs, or forwards the batch.
  topic = await startSubscriber({
    '/api/events': (r) => {
      if (mode === 'fail') return { status: 500 };
      if (mode === 'hang') return { status: 0, hang: true };
      for (const e of JSON.parse(r.body) as { id: string }[])
        published.set(e.id, (published.get(e.id) ?? 0) + 1);
      void fetch(`${host.baseUrl}/eventgrid/api/events`, {
        method: 'POST',
        headers: { 'content-type': String(r.headers['content-type']), 'aeg-sas-key': localKey },
        body: r.body,
      });
      if (failedOnce.has(r.body)) return { status: 200 };
      failedOnce.add(r.body);
      return { status: 500 };
    },
  });
  host = await startTestHost({
    EVENTGRID_TOPIC_ENDPOINT: `${topic.base}/api/events`,
    EVENTGRID_TOPIC_KEY: 'stand-in-key',
    EVENTGRID_PUBLISH_TIMEOUT_MS: '300',
    EVENTGRID_PUBLISH_MAX_RETRIES: '0',
    LOCAL_EVENTGRID_KEY: localKey,
    // The relay gives up after 12 retries (about 19 minutes on Azure) and parks the batch: scaled, about 34 s,
    // far more than the few seconds this test fails the topic for (test/eventgrid/poisonEvents.spec.ts parks).
    LOCAL_RETRY_SCALE: '0.03',
  });
});
afterAll(async () => {
  await host?.stop();
  await topic?.close();
});

function relayCheckpoint(): string | undefined {
  const store = new SqliteEventStore(openDatabase(host.dataDir));
  try {
    return (store as unknown as { db: ReturnType<typeof openDatabase> }).db
      .prepare('SELECT position FROM checkpoints WHERE consumer = ?')
      .pluck()
      .get('eventGrid-eventGridRelay') as string | undefined;
  } finally {
    void store.close();
  }
}

describe('the relay when Event Grid fails', () => {
  it('keeps its checkpoint while the topic answers 500 or hangs, then delivers every event once recovered', async () => {
    const orderId = `pf-${Date.now()}`;
    await call(host, 'POST', '/api/orders', { customerId: 'c-1', orderId });
    await call(host, 'POST', `/api/orders/${orderId}/items`, {
      productId: 'sku-pf',
      quantity: 2,
      unitPrice: '1.00',
      currency: 'EUR',
    });
    await call(host, 'POST', `/api/orders/${orderId}/cancel`, { reason: 'test' });

    await eventually(async () => (topic.posts('/api/events').length >= 3 ? true : undefined));
    expect(relayCheckpoint()).toBeUndefined();
    expect(host.logs.join('')).toMatch(/eventGridRelay.*failed \(attempt \d+\)/);

    mode = 'hang';
    const before = topic.posts('/api/events').length;
    await eventually(async () => (topic.posts('/api/events').length >= before + 2 ? true : undefined));
    expect(relayCheckpoint()).toBeUndefined();

    mode = 'forward-then-fail';
    await eventually(async () => (relayCheckpoint() !== undefined ? true : undefined));
    await eventually(async () =>
      [1, 2, 3].every((v) => (published.get(`${orderId}:${v}`) ?? 0) >= 2) ? true : undefined,
    );

    const demand = await eventually(async () => {
      const res = await call(host, 'GET', '/api/stock/sku-pf');
      return res.status === 200 ? res.body : undefined;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect((await call(host, 'GET', '/api/stock/sku-pf')).body.demanded).toBe(2);
    expect(demand.demanded).toBe(2);
    const notes = await call(host, 'GET', `/api/orders/${orderId}/notifications`);
    expect(notes.body.notifications).toHaveLength(1);
    expect(await new FileDeadLetterStore(join(host.dataDir, 'dead-letters')).list('parked')).toEqual([]);
  });
});
