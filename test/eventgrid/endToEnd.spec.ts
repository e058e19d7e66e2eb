import { CloudEvent, HTTP } from 'cloudevents';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, eventually, startTestHost, TestHost } from '../support/host';
import { startSubscriber } from '../support/subscriber';

let host: TestHost;
let subscriber: Awaited<ReturnType<typeof startSubscriber>>;

beforeAll(async () => {
  subscriber = await startSubscriber();
  const dir = mkdtempSync(join(tmpdir(), 'eg-subs-'));
  const file = join(dir, 'subscriptions.json');
  writeFileSync(
    file,
    JSON.stringify([
      { name: 'all-events', endpointUrl: `${subscriber.base}/all` },
      {
        name: 'cancellations-only',
        endpointUrl: `${subscriber.base}/cancelled`,
        includedEventTypes: ['com.contoso.orders.OrderCancelled.v1'],
      },
    ]),
  );
  host = await startTestHost({ LOCAL_EVENTGRID_SUBSCRIPTIONS: file, STOCK_LEVELS: '{"sku-scarce": 3}' });
});
afterAll(async () => {
  await host?.stop();
  await subscriber?.close();
});

const toCloudEvent = (r: { headers: Record<string, unknown>; body: string }) =>
  HTTP.toEvent({ headers: r.headers as Record<string, string>, body: r.body }) as CloudEvent<
    Record<string, unknown>
  >;

describe('from an HTTP command to CloudEvents at subscribers', () => {
  it('delivers every event of an order as a valid CloudEvent to a webhook and the consumer functions', async () => {
    const orderId = `eg-${Date.now()}`;
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await call(host, 'POST', '/api/orders', { customerId: 'c-eg', orderId }, { traceparent });
    await call(host, 'POST', `/api/orders/${orderId}/items`, {
      productId: 'sku-scarce',
      quantity: 2,
      unitPrice: '3.00',
      currency: 'EUR',
    });
    await call(host, 'POST', `/api/orders/${orderId}/items`, {
      productId: 'sku-scarce',
      quantity: 2,
      unitPrice: '3.00',
      currency: 'EUR',
    });
    await call(host, 'POST', `/api/orders/${orderId}/cancel`, { reason: 'out of patience' });

    const mine = () => subscriber.posts('/all').filter((r) => r.body.includes(`"orders/${orderId}"`));
    await eventually(async () => (mine().length >= 4 ? true : undefined));
    const events = mine().map(toCloudEvent);
    for (const e of events) expect(e.validate()).toBe(true);
    const byId = new Map(events.map((e) => [e.id, e]));
    expect([...byId.keys()].sort()).toEqual([1, 2, 3, 4].map((v) => `${orderId}:${v}`).sort());

    const created = byId.get(`${orderId}:1`)!;
    expect(created.specversion).toBe('1.0');
    expect(created.type).toBe('com.contoso.orders.OrderCreated.v2');
    expect(created.source).toBe('/order-service/orders');
    expect(created.subject).toBe(`orders/${orderId}`);
    expect(created.datacontenttype).toBe('application/json');
    expect(created.data).toEqual({ customerId: 'c-eg' });
    expect(created.orderversion).toBe(1);
    expect(created.traceparent).toBe(traceparent);
    expect(created.correlationid).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    const trail = await call(host, 'GET', `/api/orders/${orderId}/events`);
    expect(created.time).toBe(trail.body.events[0].occurredAt);

    const cancelled = byId.get(`${orderId}:4`)!;
    expect(cancelled.type).toBe('com.contoso.orders.OrderCancelled.v1');
    expect(cancelled.orderversion).toBe(4);

    const schema = await fetch(String(created.dataschema), {
      headers: { authorization: host.supportAuthorization },
    });
    expect(schema.status).toBe(200);
    expect(await schema.json()).toMatchObject({ title: 'OrderCreated v2', required: ['customerId'] });

    const filtered = subscriber.posts('/cancelled').filter((r) => r.body.includes(`"orders/${orderId}"`));
    await eventually(async () =>
      subscriber.posts('/cancelled').some((r) => r.body.includes(orderId)) ? true : undefined,
    );
    expect(filtered.map(toCloudEvent).every((e) => e.type.endsWith('OrderCancelled.v1'))).toBe(true);

    const demand = await eventually(async () => {
      const res = await call(host, 'GET', '/api/stock/sku-scarce');
      return res.status === 200 && res.body.demanded >= 4 ? res.body : undefined;
    });
    expect(demand).toEqual({ productId: 'sku-scarce', demanded: 4, available: 3, overDemand: true });
    const notes = await eventually(async () => {
      const res = await call(host, 'GET', `/api/orders/${orderId}/notifications`);
      return res.body.notifications.length ? res.body.notifications : undefined;
    });
    expect(notes).toEqual([expect.objectContaining({ eventId: `${orderId}:4`, kind: 'order-cancelled' })]);
  });

  it('performs the webhook handshake before the first event', () => {
    const first = subscriber.received.find((r) => r.path === '/all');
    expect(first?.method).toBe('OPTIONS');
    expect(first?.headers['webhook-request-origin']).toBe('eventgrid.azure.net');
  });
});
