import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, eventually, startTestHost, TestHost } from '../support/host';
import { startSubscriber } from '../support/subscriber';

const key = 'topic-input-test-key';
let host: TestHost;
let subscriber: Awaited<ReturnType<typeof startSubscriber>>;

beforeAll(async () => {
  subscriber = await startSubscriber({ '/stuck': () => ({ status: 0, hang: true }) });
  const file = join(mkdtempSync(join(tmpdir(), 'eg-subs-')), 'subscriptions.json');
  writeFileSync(file, JSON.stringify([{ name: 'stuck', endpointUrl: `${subscriber.base}/stuck` }]));
  // The stuck webhook holds its delivery open for up to an hour: far past how long the test waits.
  host = await startTestHost({
    LOCAL_EVENTGRID_KEY: key,
    LOCAL_EVENTGRID_SUBSCRIPTIONS: file,
    LOCAL_EVENTGRID_DELIVERY_TIMEOUT_SECONDS: '3600',
  });
});
afterAll(async () => {
  await host?.stop();
  await subscriber?.close();
});

const publish = (
  body: string | Buffer,
  contentType = 'application/cloudevents-batch+json; charset=utf-8',
  extra: Record<string, string> = {},
) =>
  fetch(`${host.baseUrl}/eventgrid/api/events`, {
    method: 'POST',
    headers: { 'content-type': contentType, 'aeg-sas-key': key, ...extra },
    body,
  });

const event = (extra: Record<string, unknown>) => ({
  specversion: '1.0',
  id: 'x:1',
  source: '/s',
  type: 't',
  ...extra,
});

describe('what the local topic refuses, as Event Grid does', () => {
  it.each([
    ['JSON nested too deeply', '['.repeat(5000) + ']'.repeat(5000), undefined],
    ['data and data_base64 together', JSON.stringify([event({ data: {}, data_base64: 'AA==' })]), undefined],
    ['data_base64 that is not Base64', JSON.stringify([event({ data_base64: '!!!' })]), undefined],
    ['an extension whose value is an object', JSON.stringify([event({ ext: { a: 1 } })]), undefined],
    [
      'a media type that only starts like the batch one',
      JSON.stringify([event({})]),
      'application/cloudevents-batch+jsonfoo',
    ],
    [
      'an attribute named __proto__',
      '[{"specversion":"1.0","id":"x:1","source":"/s","type":"t","__proto__":{"a":1}}]',
      undefined,
    ],
    ['a body that is not UTF-8', Buffer.from([0x5b, 0x22, 0xff, 0x22, 0x5d]), undefined],
  ])('%s → 400 in Event Grid error shape', async (_name, body, contentType) => {
    const res = await publish(body, contentType);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('BadRequest');
  });
});

describe('compressed publications', () => {
  it('are refused with 415, as the topic takes plain JSON', async () => {
    const res = await publish(JSON.stringify([event({})]), undefined, { 'content-encoding': 'gzip' });
    expect(res.status).toBe(415);
  });
});

describe('what consumers make of events they cannot use', () => {
  it('drops a forged event that breaks the producer rules, without retrying or counting it', async () => {
    const forged = {
      specversion: '1.0',
      id: 'forged-order:1',
      source: '/order-service/orders',
      type: 'com.contoso.orders.ProductAddedToOrder.v1',
      subject: 'orders/forged-order',
      time: new Date().toISOString(),
      datacontenttype: 'application/json',
      orderversion: 1,
      data: { productId: 'sku-forged', quantity: 5_000_000, unitPrice: '1.00', currency: 'BRL' },
    };
    const res = await publish(
      JSON.stringify([forged, { ...forged, id: 'other:1', type: 'com.example.Unrelated.v1' }]),
    );
    expect(res.status).toBe(200);
    await eventually(async () =>
      host.logs.join('').includes('stock check: dropped a malformed event') ? true : undefined,
    );
    expect(host.logs.join('')).not.toMatch(/delivery of forged-order:1 to function-stockCheck failed/);
    expect(host.logs.join('')).not.toMatch(/delivery of other:1 to function-/);
    expect((await call(host, 'GET', '/api/stock/sku-forged')).status).toBe(404);
  });

  it('lets no subscriber that never answers hold up the others', async () => {
    const orderId = `slow-${Date.now()}`;
    await call(host, 'POST', '/api/orders', { customerId: 'c', orderId });
    for (let k = 0; k < 20; k++) {
      await call(host, 'POST', `/api/orders/${orderId}/items`, {
        productId: `sku-slow-${k}`,
        quantity: 1,
        unitPrice: '1.00',
        currency: 'BRL',
      });
    }
    const demands = await eventually(async () => {
      const all = await Promise.all(
        Array.from({ length: 20 }, (_, k) => call(host, 'GET', `/api/stock/sku-slow-${k}`)),
      );
      return all.every((r) => r.status === 200) ? all : undefined;
    });
    expect(demands).toHaveLength(20);
    // Causal, not timed: every demand was counted while the stuck webhook still held a delivery open.
    expect(subscriber.heldOpen()).toBeGreaterThan(0);
    expect(subscriber.posts('/stuck').length).toBeLessThanOrEqual(4);
    expect(readdirSync(host.dataDir)).toContain('orders.db');
  });
});
