import { HttpRequest, InvocationContext } from '@azure/functions';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { devSignInKey, signDevToken } from '../../src/adapters/devSignIn';
import { toDomainEvent, toRecord } from '../../src/app/orderService';
import { closeServices, services } from '../../src/composition/services';
import { fold } from '../../src/domain/decider';
import { toOrderView } from '../../src/domain/orderView';
import { getOrder } from '../../src/handlers/orders';
import { etagOf } from '../../src/http/etag';

/**
 * `GET /api/orders/{orderId}` without `asOf` answers from the order's head (its snapshot, ADR-0015) and not by
 * folding its stream (issue 14, point 1): the function's handler in this process, on the embedded store of a
 * temporary DATA_DIR, signed in as support. Each answer is compared with the view of the fold of the order's
 * events, read from the store beside the handler.
 */
let dir: string;
let authorization: string;
const saved = { ...process.env };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'get-order-head-'));
  process.env.DATA_DIR = dir;
  process.env.EVENT_STORE = 'sqlite';
  const token = await signDevToken(devSignInKey(dir), { sub: 'support', roles: ['orders.read'] }, 3600);
  authorization = `Bearer ${token}`;
});
afterEach(() => {
  vi.restoreAllMocks();
});
afterAll(async () => {
  await closeServices();
  process.env = saved;
  rmSync(dir, { recursive: true, force: true });
});

async function get(orderId: string, query = '') {
  const res = await getOrder(
    new HttpRequest({
      method: 'GET',
      url: `http://127.0.0.1:7071/api/orders/${encodeURIComponent(orderId)}${query}`,
      params: { orderId },
      headers: { authorization },
    }),
    new InvocationContext(),
  );
  return {
    status: res.status ?? 200,
    headers: res.headers as Record<string, string>,
    // As the client receives it: JSON.
    body: JSON.parse(JSON.stringify(res.jsonBody)) as unknown,
  };
}

/**
 * The order as the fold of its stream up to `asOf` (all of it without), read straight from the store: the
 * view and the order's headers a GET must answer with (the endpoint adds its own, such as `Vary`).
 */
async function folded(orderId: string, asOf?: string) {
  const slice = await services().store.readStream(orderId, asOf === undefined ? {} : { asOf });
  const state = fold(slice.events.map(toDomainEvent));
  const updatedAt = slice.events.at(-1)!.occurredAt;
  return {
    headers: { etag: etagOf(slice.version), location: `/api/orders/${encodeURIComponent(orderId)}` },
    body: JSON.parse(JSON.stringify(toOrderView(orderId, state, slice.version, updatedAt))) as unknown,
  };
}

/** A business time after every event of these tests: `asOf` it, a GET folds the whole stream. */
const future = '2099-01-01T00:00:00.000Z';
const time = (minute: number) => new Date(Date.UTC(2026, 0, 2, 10, minute)).toISOString();
const line = (productId: string, quantity: number, unitPrice: string) => ({
  productId,
  quantity,
  unitPrice,
  currency: 'BRL',
  sellerId: `seller-${productId}`,
});

/** An order with a history of every kind of change, each event at its own business time (minutes 0 to 7). */
async function orderWithHistory(orderId: string): Promise<void> {
  const orders = services().orders;
  await orders.handle(orderId, {
    type: 'CreateOrder',
    customerId: 'c-1',
    referralCode: 'ref-7',
    occurredAt: time(0),
  });
  await orders.handle(orderId, { type: 'AddProduct', line: line('p-1', 2, '19.90'), occurredAt: time(1) });
  await orders.handle(orderId, { type: 'AddProduct', line: line('p-2', 1, '5.05'), occurredAt: time(2) });
  await orders.handle(orderId, { type: 'AddProduct', line: line('p-1', 3, '19.90'), occurredAt: time(3) });
  await orders.handle(orderId, { type: 'RemoveProduct', productId: 'p-2', occurredAt: time(4) });
  await orders.handle(orderId, { type: 'AddProduct', line: line('p-3', 1, '100.00'), occurredAt: time(5) });
  await orders.handle(orderId, { type: 'SubmitOrder', occurredAt: time(6) });
  await orders.handle(orderId, { type: 'AcceptOrder', approvedBy: 'alice', occurredAt: time(7) });
}

describe('GET an order without asOf', () => {
  it('answers from the head, with the body and headers of the fold of its events, without reading the stream', async () => {
    const orderId = 'head-1';
    await orderWithHistory(orderId);
    const expected = await folded(orderId);
    expect(expected.body).toMatchObject({ version: 8, status: 'accepted', updatedAt: time(7) });

    const readStream = vi.spyOn(services().store, 'readStream');
    const res = await get(orderId);
    expect(readStream).not.toHaveBeenCalled();
    expect(res.status).toBe(200);
    expect(res.body).toEqual(expected.body);
    expect(res.headers).toMatchObject(expected.headers);
    // The whole answer, every header included, is the one of a GET that folds every event.
    expect(await get(orderId, `?asOf=${encodeURIComponent(future)}`)).toEqual(res);
    expect(readStream).toHaveBeenCalledOnce();
  });

  it('folds the events when the head keeps no snapshot, or one of another schema', async () => {
    const store = services().store;
    const orderId = 'no-snapshot-1';
    // Written straight to the store, as data from before ADR-0015: the head has no snapshot.
    const events = [
      { type: 'OrderCreated' as const, data: { customerId: 'c-2' }, occurredAt: time(0) },
      { type: 'ProductAddedToOrder' as const, data: line('p-1', 1, '2.50'), occurredAt: time(1) },
      { type: 'ProductAddedToOrder' as const, data: line('p-4', 4, '0.99'), occurredAt: time(2) },
    ];
    await store.append(
      orderId,
      0,
      events.map((e) => toRecord(e)),
    );
    expect((await store.readHead(orderId))?.snapshot).toBeUndefined();
    const expected = await folded(orderId);
    expect(expected.body).toMatchObject({ version: 3, lineCount: 2, total: '6.46', updatedAt: time(2) });
    const res = await get(orderId);
    expect(res).toMatchObject({ status: 200, body: expected.body, headers: expected.headers });
    expect(res.body).toEqual(expected.body);
    expect(await get(orderId, `?asOf=${encodeURIComponent(future)}`)).toEqual(res);

    // A snapshot another deployment's fold wrote (here, a wrong state under another schema) is not used.
    const other = {
      schema: 'order-state.v0.00000000',
      version: 3,
      state: { state: { exists: true, status: 'cancelled', lines: [] }, updatedAt: time(59) },
    };
    expect(await store.saveSnapshot(orderId, other)).toBe(true);
    expect(await get(orderId)).toEqual(res);
  });

  it('answers an unknown order with 404', async () => {
    expect((await get('nobody-here')).status).toBe(404);
  });
});

describe('GET an order with asOf', () => {
  it('folds the events up to that time, whatever the head keeps', async () => {
    const orderId = 'as-of-1';
    await orderWithHistory(orderId);
    const readStream = vi.spyOn(services().store, 'readStream');
    for (const minute of [0, 3, 4, 7]) {
      const asOf = new Date(Date.parse(time(minute)) + 30_000).toISOString();
      const expected = await folded(orderId, asOf);
      expect(expected.body, asOf).toMatchObject({ version: minute + 1, updatedAt: time(minute) });
      readStream.mockClear();
      const res = await get(orderId, `?asOf=${encodeURIComponent(asOf)}`);
      expect(readStream, asOf).toHaveBeenCalledWith(orderId, { asOf });
      expect(res, asOf).toMatchObject({ status: 200, headers: expected.headers });
      expect(res.body, asOf).toEqual(expected.body);
    }
  });
});
