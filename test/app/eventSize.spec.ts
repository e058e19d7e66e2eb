import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventGridCloudEventPublisher } from '../../src/adapters/eventgrid/eventGridPublisher';
import { openDatabase } from '../../src/adapters/sqlite/database';
import { SqliteEventStore } from '../../src/adapters/sqlite/sqliteEventStore';
import { toCloudEvents } from '../../src/app/cloudEvents';
import { EventTooLargeError, OrderService, unknownAttributesReserveBytes } from '../../src/app/orderService';
import { eventGridLimits, jsonBytes, maxPublishableEventBytes } from '../../src/ports/cloudEvents';
import { commitId } from '../../src/ports/eventStore';
import { startSubscriber } from '../support/subscriber';

// The size rule counts the CloudEvent the relay will publish, and that count is what the topic receives: the
// request the real @azure/eventgrid client sends for that event alone is measured on the wire.

const options = {
  source: '/order-service/orders',
  typePrefix: 'com.contoso.orders',
  schemaBaseUrl: 'https://orders.example.com',
};
const at = '2024-05-01T10:00:00.000Z';
let dir: string;
let store: SqliteEventStore;
let topic: Awaited<ReturnType<typeof startSubscriber>>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'event-size-'));
  store = new SqliteEventStore(openDatabase(dir));
  topic = await startSubscriber();
});
afterAll(async () => {
  await store?.close();
  await topic?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Length of a cancellation reason whose OrderCancelled CloudEvent (version 2 of `orderId`) is `bytes` long. */
function reasonLengthFor(orderId: string, bytes: number): number {
  const probe = 'x'.repeat(1000);
  const [event] = toCloudEvents(
    {
      id: commitId(1),
      orderId,
      kind: 'commit',
      i: 1,
      n: 2,
      e: [
        { type: 'OrderCancelled', schemaVersion: 1, data: { reason: probe }, occurredAt: at, metadata: {} },
      ],
      recordedAt: at,
    },
    options,
  );
  return probe.length + (bytes - jsonBytes(event));
}

describe('the size rule of a command', () => {
  it('accepts an event whose CloudEvent is exactly at the limit, and the topic receives exactly a 1 MB request', async () => {
    const orders = new OrderService(store, () => new Date(at), options);
    const orderId = 'size-at-limit';
    await orders.handle(orderId, { type: 'CreateOrder', customerId: 'c-1' });
    const reason = 'x'.repeat(reasonLengthFor(orderId, maxPublishableEventBytes));

    const result = await orders.handle(orderId, { type: 'CancelOrder', reason });

    expect(result.version).toBe(2);
    const page = await store.readFeed(undefined, 10);
    const stored = page.commits.find((c) => c.orderId === orderId && c.i === 1)!;
    const [event] = toCloudEvents(stored, options);
    expect(jsonBytes(event)).toBe(maxPublishableEventBytes);

    const publisher = new EventGridCloudEventPublisher({
      endpoint: `${topic.base}/api/events`,
      key: 'test-key',
      timeoutMs: 30_000,
      maxRetries: 0,
    });
    await publisher.publish([event]);
    const [request] = topic.posts('/api/events');
    expect(Buffer.byteLength(request.body, 'utf8')).toBe(eventGridLimits.maxRequestBytes);
    expect(JSON.parse(request.body)).toEqual([JSON.parse(JSON.stringify(event))]);
  });

  it('refuses, appending nothing, an event whose CloudEvent is one byte over the limit', async () => {
    const orders = new OrderService(store, () => new Date(at), options);
    const orderId = 'size-one-over';
    await orders.handle(orderId, { type: 'CreateOrder', customerId: 'c-1' });
    const reason = 'x'.repeat(reasonLengthFor(orderId, maxPublishableEventBytes + 1));

    const refusal = await orders.handle(orderId, { type: 'CancelOrder', reason }).catch((e: unknown) => e);

    expect(refusal).toBeInstanceOf(EventTooLargeError);
    expect(refusal).toMatchObject({
      eventType: 'com.contoso.orders.OrderCancelled.v1',
      bytes: maxPublishableEventBytes + 1,
    });
    expect((await orders.load(orderId)).version).toBe(1);
  });

  it('without the publishing attributes, reserves room for them instead of counting them', async () => {
    const orders = new OrderService(store, () => new Date(at));
    const orderId = 'size-no-options';
    await orders.handle(orderId, { type: 'CreateOrder', customerId: 'c-1' });
    const attributes = options.source.length + options.typePrefix.length + options.schemaBaseUrl.length;
    const atLimitWithReserve = maxPublishableEventBytes - unknownAttributesReserveBytes + attributes;

    const refusal = await orders
      .handle(orderId, {
        type: 'CancelOrder',
        reason: 'x'.repeat(reasonLengthFor(orderId, atLimitWithReserve + 1)),
      })
      .catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(EventTooLargeError);
    const ok = await orders.handle(orderId, {
      type: 'CancelOrder',
      reason: 'x'.repeat(reasonLengthFor(orderId, atLimitWithReserve)),
    });
    expect(ok.version).toBe(2);
  });
});
