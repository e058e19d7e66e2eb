import * as df from 'durable-functions';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { acceptanceInstanceId, reservationIdOf } from '../../src/acceptance/contract';
import { acceptanceDeps as getAcceptanceDeps } from '../../src/composition/services';
import { CommandInput, toRecord } from '../../src/app/orderService';
import { services as getServices } from '../../src/composition/services';
import { OrderEvent } from '../../src/domain/events';
import { OrderLine } from '../../src/domain/state';
import { EventType, isType } from '../../src/local/durable/history';
import { DurableHarness, startDurableHarness } from '../support/durableHarness';
import { eventually } from '../support/host';

/*
 * The orderAcceptance orchestration, run by the local durable runtime in this process: the library's own
 * replay engine (the handler captured from df.app.orchestration), the real DurableClient over HTTP for the
 * starter and for approvals, SQLite stores under a temporary DATA_DIR, and a frozen clock the tests move.
 */

let h: DurableHarness;
const hour = 3600 * 1000;

beforeAll(async () => {
  h = await startDurableHarness({
    env: {
      APPROVAL_THRESHOLD: '1000.00',
      APPROVAL_TIMEOUT_SECONDS: '3600',
      RESERVATION_RETRY_FIRST_INTERVAL_MS: '1000',
      RESERVATION_RETRY_MAX_ATTEMPTS: '3',
      RESERVATION_RETRY_BACKOFF: '2',
      STOCK_LEVELS: '{"scarce": 1, "sku-1": 3}',
      STOCK_RESERVATION_FAILURES: '{"flaky-2": 2, "broken": 99}',
    },
    register: async () => {
      await import('../../src/functions/orderAcceptance');
      await import('../../src/functions/orderAcceptanceStarter');
      await import('../../src/functions/orderAcceptanceHttp');
      await import('../../src/functions/stockRelease');
    },
  });
});
afterAll(async () => {
  await h?.stop();
});
afterEach(() => {
  vi.restoreAllMocks();
});

let seq = 0;
const line = (productId: string, quantity: number, unitPrice: string): OrderLine => ({
  productId,
  quantity,
  unitPrice,
  currency: 'BRL',
});

/** Creates and submits an order, and returns its commits as the change feed would deliver them. */
async function submittedOrder(lines: OrderLine[], actor = 'customer') {
  const orderId = `order-${++seq}`;
  const { orders, store } = getServices();
  const metadata = { actor, correlationId: `corr-${orderId}` };
  await orders.handle(orderId, { type: 'CreateOrder', customerId: 'cust-1' }, { metadata });
  for (const l of lines) await orders.handle(orderId, { type: 'AddProduct', line: l }, { metadata });
  await orders.handle(orderId, { type: 'SubmitOrder' }, { metadata });
  const commits = (await store.readFeed(undefined, 100_000)).commits.filter((c) => c.orderId === orderId);
  return { orderId, instanceId: acceptanceInstanceId(orderId), commits };
}

/**
 * Writes an order straight to the event store, past the decider, as another writer could (an older
 * version, a migration): created, the lines as given, submitted with `total`. Returns its commits.
 */
async function writtenByAnotherWriter(
  lines: { productId: string; quantity: number; unitPrice: string }[],
  total: string,
) {
  const orderId = `order-${++seq}`;
  const at = '2030-01-01T00:00:00.000Z';
  const metadata = { actor: 'other-writer', correlationId: `corr-${orderId}` };
  const events: OrderEvent[] = [
    { type: 'OrderCreated', data: { customerId: 'cust-1' }, occurredAt: at },
    ...lines.map((l): OrderEvent => ({
      type: 'ProductAddedToOrder',
      data: { ...l, currency: 'BRL' },
      occurredAt: at,
    })),
    { type: 'OrderSubmitted', data: { total, currency: 'BRL', lineCount: lines.length }, occurredAt: at },
  ];
  const { store } = getServices();
  await store.append(
    orderId,
    0,
    events.map((e) => toRecord(e, metadata)),
  );
  const commits = (await store.readFeed(undefined, 100_000)).commits.filter((c) => c.orderId === orderId);
  return { orderId, instanceId: acceptanceInstanceId(orderId), commits };
}

/** Makes `orders.load` of one order throw for its next `times` calls (the store is unavailable). */
function failLoads(orderId: string, times: number) {
  const orders = getServices().orders;
  const load = orders.load.bind(orders);
  let left = times;
  vi.spyOn(orders, 'load').mockImplementation(async (id, options) => {
    if (id === orderId && left > 0) {
      left--;
      throw new Error('the event store is unavailable');
    }
    return load(id, options);
  });
}

/** Makes every command of `type` on one order throw. */
function failCommands(orderId: string, type: CommandInput['type']) {
  const orders = getServices().orders;
  const handle = orders.handle.bind(orders);
  vi.spyOn(orders, 'handle').mockImplementation(async (id, input, options) => {
    if (id === orderId && input.type === type)
      throw new Error(`${type} failed: the event store is unavailable`);
    return handle(id, input, options);
  });
}

const statusOf = (instanceId: string) => h.runtime.status(instanceId);
const finished = (instanceId: string) => () =>
  ['Completed', 'Failed'].includes(statusOf(instanceId)?.runtimeStatus ?? '');
const stepOf = (instanceId: string) => (statusOf(instanceId)?.customStatus as { step?: string } | null)?.step;
const eventsOf = async (orderId: string) => (await getServices().orders.load(orderId)).events;
const typesOf = async (orderId: string) => (await eventsOf(orderId)).map((e) => e.type);
/** The events the acceptance appended: everything after OrderSubmitted. */
const appended = async (orderId: string) => {
  const events = await eventsOf(orderId);
  return events.slice(events.findIndex((e) => e.type === 'OrderSubmitted') + 1);
};
/** Cancels an order as the API does, and returns the commit of its OrderCancelled as the change feed delivers it. */
async function cancelled(orderId: string) {
  const { orders, store } = getServices();
  await orders.handle(
    orderId,
    { type: 'CancelOrder', reason: 'changed my mind' },
    { metadata: { actor: 'customer', correlationId: `cancel-${orderId}` } },
  );
  return (await store.readFeed(undefined, 100_000)).commits.filter(
    (c) => c.orderId === orderId && c.e.some((e) => e.type === 'OrderCancelled'),
  );
}
const reservationOf = async (orderId: string, productId: string) =>
  (await getAcceptanceDeps().stock.get(reservationIdOf(orderId, productId)))?.status;
const runsOf = (instanceId: string, name: string) =>
  h.runtime.store.activityRuns(instanceId).filter((r) => r.name === `orderAcceptance-${name}`);

describe('order acceptance orchestration on the local durable runtime', () => {
  it('accepts an order below the threshold: stock reserved for every line, then OrderAccepted', async () => {
    const o = await submittedOrder([line('p-1', 2, '10.00'), line('p-2', 1, '5.00')]);
    await h.invoke('orderAcceptanceStarter', o.commits);
    await h.runUntil(finished(o.instanceId));
    const status = statusOf(o.instanceId)!;
    expect(status).toMatchObject({
      runtimeStatus: 'Completed',
      customStatus: { step: 'accepted' },
      output: { outcome: 'accepted', reserved: ['p-1', 'p-2'], released: [] },
    });
    const events = await appended(o.orderId);
    expect(events.map((e) => e.type)).toEqual(['StockReserved', 'StockReserved', 'OrderAccepted']);
    expect(events[2].metadata).toMatchObject({
      actor: 'orchestration:orderAcceptance',
      correlationId: `corr-${o.orderId}`,
      causationId: o.instanceId,
    });
    expect((await getAcceptanceDeps().stock.get(reservationIdOf(o.orderId, 'p-1')))?.status).toBe('reserved');
  });

  it('waits above the threshold and accepts when the approval arrives in time', async () => {
    const o = await submittedOrder([line('p-1', 3, '500.00')]);
    const started = h.clock.nowMs();
    await h.invoke('orderAcceptanceStarter', o.commits);
    await h.runUntil(() => stepOf(o.instanceId) === 'awaiting-approval', { maxSteps: 0 });
    expect(statusOf(o.instanceId)?.customStatus).toMatchObject({
      approvalDeadline: new Date(started + hour).toISOString(),
      total: '1500.00',
      currency: 'BRL',
    });
    h.clock.advance(30 * 60 * 1000); // half-way to the deadline
    await h.runtime.idle();
    expect(stepOf(o.instanceId)).toBe('awaiting-approval');
    await df
      .getClient(h.clientContext())
      .raiseEvent(o.instanceId, 'approval', { approved: true, approver: 'ops-1' });
    await h.runUntil(finished(o.instanceId), { maxSteps: 0 });
    expect(statusOf(o.instanceId)?.output).toMatchObject({ outcome: 'accepted', approvedBy: 'ops-1' });
    const accepted = (await eventsOf(o.orderId)).find((e) => e.type === 'OrderAccepted');
    expect(accepted?.data).toEqual({ approvedBy: 'ops-1' });
  });

  it('rejects when the approval deadline passes, and releases every reservation made', async () => {
    const o = await submittedOrder([line('p-a', 1, '800.00'), line('p-b', 1, '800.00')]);
    await h.invoke('orderAcceptanceStarter', o.commits);
    await h.runUntil(() => stepOf(o.instanceId) === 'awaiting-approval', { maxSteps: 0 });
    h.clock.advance(hour - 1);
    await h.runtime.idle();
    expect(stepOf(o.instanceId)).toBe('awaiting-approval');
    await h.runUntil(finished(o.instanceId), { stepMs: 1 });
    expect(statusOf(o.instanceId)?.output).toMatchObject({
      outcome: 'rejected',
      reason: expect.stringMatching(/^no approval before /),
      released: ['p-a', 'p-b'],
    });
    const types = await typesOf(o.orderId);
    expect(types.filter((t) => t === 'StockReserved')).toHaveLength(2);
    expect(types.filter((t) => t === 'StockReleased')).toHaveLength(2);
    expect(types[types.length - 1]).toBe('OrderRejected');
    for (const p of ['p-a', 'p-b']) {
      expect((await getAcceptanceDeps().stock.get(reservationIdOf(o.orderId, p)))?.status).toBe('released');
    }
  });

  it('retries a reservation that fails twice, and accepts once it succeeds', async () => {
    const o = await submittedOrder([line('flaky-2', 1, '10.00')]);
    await h.invoke('orderAcceptanceStarter', o.commits);
    await h.runUntil(finished(o.instanceId), { stepMs: 500 });
    expect(statusOf(o.instanceId)?.output).toMatchObject({ outcome: 'accepted' });
    expect(runsOf(o.instanceId, 'reserveStock').map((r) => r.outcome)).toEqual([
      'failed',
      'failed',
      'completed',
    ]);
    const retryTimers = h.runtime.store
      .history(o.instanceId)
      .map((x) => x.event)
      .filter((e) => isType(e, EventType.TimerCreated));
    // Delays of RetryOptions(1000 ms, backoff 2): 1 s after the first failure, 2 s after the second.
    expect(retryTimers.map((e) => Date.parse(e.FireAt) - Date.parse(e.Timestamp))).toEqual([1000, 2000]);
    const types = await typesOf(o.orderId);
    expect(types.filter((t) => t === 'StockReserved')).toHaveLength(1);
    expect(types).not.toContain('StockReservationFailed');
  });

  it('rejects with the reason when the retries are exhausted, releasing the lines that were reserved', async () => {
    const o = await submittedOrder([line('p-ok', 1, '10.00'), line('broken', 1, '10.00')]);
    await h.invoke('orderAcceptanceStarter', o.commits);
    await h.runUntil(finished(o.instanceId), { stepMs: 1000 });
    const status = statusOf(o.instanceId)!;
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toMatchObject({
      outcome: 'rejected',
      reason: expect.stringContaining('broken: StockUnavailableError: stock service unavailable for broken'),
      reserved: ['p-ok'],
      released: ['p-ok'],
    });
    expect(runsOf(o.instanceId, 'reserveStock').filter((r) => r.outcome === 'failed')).toHaveLength(3);
    const events = await appended(o.orderId);
    expect(events.map((e) => e.type)).toEqual([
      'StockReserved',
      'StockReleased',
      'StockReservationFailed',
      'OrderRejected',
    ]);
    expect(events[events.length - 1].data).toEqual({ reason: (status.output as { reason: string }).reason });
  });

  it('rejects a line beyond the available stock, naming the product', async () => {
    const o = await submittedOrder([line('scarce', 2, '10.00')]);
    await h.invoke('orderAcceptanceStarter', o.commits);
    await h.runUntil(finished(o.instanceId), { stepMs: 1000 });
    expect(statusOf(o.instanceId)?.output).toMatchObject({
      outcome: 'rejected',
      reason: expect.stringContaining('insufficient stock for scarce: 2 requested, 1 available'),
    });
    expect(await getAcceptanceDeps().stock.available('scarce')).toBe(1);
  });

  it('rejects an order whose total is not below the limit (written past the API), with the reason', async () => {
    const o = await writtenByAnotherWriter(
      [{ productId: 'p-big', quantity: 2, unitPrice: '5000000000000000.00' }],
      '10000000000000000.00',
    );
    await h.invoke('orderAcceptanceStarter', o.commits);
    await h.runUntil(finished(o.instanceId));
    const status = statusOf(o.instanceId)!;
    expect(status).toMatchObject({
      runtimeStatus: 'Completed',
      customStatus: { step: 'rejected' },
      output: {
        outcome: 'rejected',
        reason: 'the order total 10000000000000000.00 BRL is not below the limit of 1000000000000000 BRL',
        reserved: [],
      },
    });
    const events = await appended(o.orderId);
    expect(events.map((e) => e.type)).toEqual(['OrderRejected']);
    expect(events[0].data).toEqual({ reason: (status.output as { reason: string }).reason });
    expect(runsOf(o.instanceId, 'validate')).toHaveLength(1);
  });

  it('rejects orders whose lines the domain would refuse (written past the API), naming the line', async () => {
    const price = await writtenByAnotherWriter(
      [{ productId: 'p-x', quantity: 1, unitPrice: '10.005' }],
      '10.01',
    );
    const quantity = await writtenByAnotherWriter(
      [{ productId: 'p-y', quantity: 2_000_000, unitPrice: '1.00' }],
      '2000000.00',
    );
    for (const o of [price, quantity]) await h.invoke('orderAcceptanceStarter', o.commits);
    await h.runUntil(() => finished(price.instanceId)() && finished(quantity.instanceId)());
    expect(statusOf(price.instanceId)?.output).toMatchObject({
      outcome: 'rejected',
      reason: expect.stringMatching(/^line p-x has an invalid unit price: "10.005" has more fraction digits/),
    });
    expect(statusOf(quantity.instanceId)?.output).toMatchObject({
      outcome: 'rejected',
      reason: 'line p-y has quantity 2000000; a line holds 1 to 1000000 units',
    });
    expect((await typesOf(price.orderId)).at(-1)).toBe('OrderRejected');
    expect((await typesOf(quantity.orderId)).at(-1)).toBe('OrderRejected');
  });

  it('tries a failing validate again after a durable timer, and accepts once it answers', async () => {
    const o = await submittedOrder([line('p-1', 1, '10.00')]);
    failLoads(o.orderId, 2);
    await h.invoke('orderAcceptanceStarter', o.commits);
    await h.runUntil(finished(o.instanceId));
    expect(statusOf(o.instanceId)?.output).toMatchObject({ outcome: 'accepted' });
    expect(runsOf(o.instanceId, 'validate').map((r) => r.outcome)).toEqual(['failed', 'failed', 'completed']);
    const timers = h.runtime.store
      .history(o.instanceId)
      .map((x) => x.event)
      .filter((e) => isType(e, EventType.TimerCreated));
    expect(timers.map((e) => Date.parse(e.FireAt) - Date.parse(e.Timestamp))).toEqual([5000, 10000]);
  });

  it('rejects with the error when validate fails every attempt, instead of failing with the order stuck', async () => {
    const o = await submittedOrder([line('p-1', 1, '10.00')]);
    failLoads(o.orderId, 3);
    await h.invoke('orderAcceptanceStarter', o.commits);
    await h.runUntil(finished(o.instanceId));
    expect(statusOf(o.instanceId)).toMatchObject({
      runtimeStatus: 'Completed',
      output: {
        outcome: 'rejected',
        reason: expect.stringMatching(
          /^the acceptance failed while validating the order: .*the event store is unavailable$/,
        ),
      },
    });
    expect(runsOf(o.instanceId, 'validate').map((r) => r.outcome)).toEqual(['failed', 'failed', 'failed']);
    expect((await getServices().orders.load(o.orderId)).state.status).toBe('rejected');
  });

  it('rejects and then releases the stock when accept fails every attempt', async () => {
    const o = await submittedOrder([line('p-acc-1', 1, '10.00'), line('p-acc-2', 1, '10.00')]);
    failCommands(o.orderId, 'AcceptOrder');
    await h.invoke('orderAcceptanceStarter', o.commits);
    await h.runUntil(finished(o.instanceId));
    expect(statusOf(o.instanceId)).toMatchObject({
      runtimeStatus: 'Completed',
      output: {
        outcome: 'rejected',
        reason: expect.stringMatching(
          /^the acceptance failed while accepting the order: .*AcceptOrder failed/,
        ),
        reserved: ['p-acc-1', 'p-acc-2'],
        released: ['p-acc-1', 'p-acc-2'],
      },
    });
    expect(runsOf(o.instanceId, 'accept').map((r) => r.outcome)).toEqual(['failed', 'failed', 'failed']);
    expect((await appended(o.orderId)).map((e) => e.type)).toEqual([
      'StockReserved',
      'StockReserved',
      'OrderRejected',
      'StockReleased',
      'StockReleased',
    ]);
    for (const p of ['p-acc-1', 'p-acc-2']) {
      expect((await getAcceptanceDeps().stock.get(reservationIdOf(o.orderId, p)))?.status).toBe('released');
    }
  });

  it('still rejects when a release fails every attempt, naming the stock left reserved', async () => {
    const o = await submittedOrder([line('p-stuck', 1, '10.00'), line('broken', 1, '10.00')]);
    const stock = getAcceptanceDeps().stock;
    vi.spyOn(stock, 'release').mockRejectedValue(new Error('the stock service is unavailable'));
    await h.invoke('orderAcceptanceStarter', o.commits);
    await h.runUntil(finished(o.instanceId));
    expect(statusOf(o.instanceId)).toMatchObject({
      runtimeStatus: 'Completed',
      customStatus: { step: 'rejected', detail: expect.stringContaining('stock still reserved for p-stuck') },
      output: { outcome: 'rejected', reserved: ['p-stuck'], released: [], unreleased: ['p-stuck'] },
    });
    expect((await typesOf(o.orderId)).at(-1)).toBe('OrderRejected');
  });

  it('ignores a malformed approval (counted in the custom status) and accepts on a valid one', async () => {
    const o = await submittedOrder([line('p-1', 3, '500.00')]);
    await h.invoke('orderAcceptanceStarter', o.commits);
    await h.runUntil(() => stepOf(o.instanceId) === 'awaiting-approval', { maxSteps: 0 });
    const deadline = (statusOf(o.instanceId)?.customStatus as { approvalDeadline: string }).approvalDeadline;
    const client = df.getClient(h.clientContext());
    await client.raiseEvent(o.instanceId, 'approval', { approved: 'no', approver: { x: 1 } });
    await h.runtime.idle();
    expect(statusOf(o.instanceId)).toMatchObject({
      runtimeStatus: 'Running',
      customStatus: {
        step: 'awaiting-approval',
        approvalDeadline: deadline,
        invalidApprovalIgnored: 1,
        lastInvalidApproval: expect.stringMatching(/approved: .*; approver: /),
      },
    });
    await client.raiseEvent(o.instanceId, 'approval', { approved: true, approver: 'x'.repeat(257) });
    await client.raiseEvent(o.instanceId, 'approval', null);
    await h.runtime.idle();
    expect(statusOf(o.instanceId)?.customStatus).toMatchObject({ invalidApprovalIgnored: 3 });
    expect(await typesOf(o.orderId)).not.toContain('OrderAccepted');

    await client.raiseEvent(o.instanceId, 'approval', { approved: true, approver: ' ops-1 ' });
    await h.runUntil(finished(o.instanceId), { maxSteps: 0 });
    expect(statusOf(o.instanceId)?.output).toMatchObject({ outcome: 'accepted', approvedBy: 'ops-1' });
    const accepted = (await eventsOf(o.orderId)).find((e) => e.type === 'OrderAccepted');
    expect(accepted?.data).toEqual({ approvedBy: 'ops-1' });
  });

  it('keeps the first deadline after a malformed approval, and rejects when it passes', async () => {
    const o = await submittedOrder([line('p-late', 1, '1500.00')]);
    await h.invoke('orderAcceptanceStarter', o.commits);
    await h.runUntil(() => stepOf(o.instanceId) === 'awaiting-approval', { maxSteps: 0 });
    const deadline = (statusOf(o.instanceId)?.customStatus as { approvalDeadline: string }).approvalDeadline;
    h.clock.advance(hour / 2);
    await df.getClient(h.clientContext()).raiseEvent(o.instanceId, 'approval', { approved: true });
    await h.runtime.idle();
    expect(stepOf(o.instanceId)).toBe('awaiting-approval');
    h.clock.advance(hour / 2 - 1);
    await h.runtime.idle();
    expect(stepOf(o.instanceId)).toBe('awaiting-approval');
    await h.runUntil(finished(o.instanceId), { stepMs: 1 });
    expect(statusOf(o.instanceId)?.output).toMatchObject({
      outcome: 'rejected',
      reason: `no approval before ${deadline}`,
      released: ['p-late'],
    });
    const timers = h.runtime.store
      .history(o.instanceId)
      .map((x) => x.event)
      .filter((e) => isType(e, EventType.TimerCreated));
    expect(timers).toHaveLength(1);
  });

  it('rejects with the approver and comment when the approval refuses', async () => {
    const o = await submittedOrder([line('p-no', 2, '800.00')]);
    await h.invoke('orderAcceptanceStarter', o.commits);
    await h.runUntil(() => stepOf(o.instanceId) === 'awaiting-approval', { maxSteps: 0 });
    await df
      .getClient(h.clientContext())
      .raiseEvent(o.instanceId, 'approval', { approved: false, approver: 'ops-2', comment: 'too much' });
    await h.runUntil(finished(o.instanceId), { maxSteps: 0 });
    expect(statusOf(o.instanceId)?.output).toMatchObject({
      outcome: 'rejected',
      reason: 'not approved by ops-2: too much',
      released: ['p-no'],
    });
  });

  it('says when a terminated acceptance left the order undecided, and what stays reserved', async () => {
    const o = await submittedOrder([line('p-term', 1, '1500.00')]);
    await h.invoke('orderAcceptanceStarter', o.commits);
    await h.runUntil(() => stepOf(o.instanceId) === 'awaiting-approval', { maxSteps: 0 });
    await df.getClient(h.clientContext()).terminate(o.instanceId, 'operator');
    const res = await fetch(`${h.baseUrl}/api/orders/${o.orderId}/acceptance`, {
      headers: { authorization: h.supportAuthorization },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      runtimeStatus: 'Terminated',
      detail:
        `the acceptance was terminated (operator) before it decided: order ${o.orderId} stays submitted and ` +
        `no acceptance starts for it again; cancel it (POST /api/orders/${o.orderId}/cancel) to close it; ` +
        'its stock stays reserved (p-term) until it is cancelled',
    });
  });

  it('starts one instance for an OrderSubmitted delivered twice, also after it finished', async () => {
    const o = await submittedOrder([line('p-1', 1, '10.00')]);
    const first = (await Promise.all([
      h.invoke('orderAcceptanceStarter', o.commits),
      h.invoke('orderAcceptanceStarter', o.commits),
    ])) as unknown[];
    expect(first).toHaveLength(2);
    await h.runUntil(finished(o.instanceId));
    await h.invoke('orderAcceptanceStarter', o.commits);
    await h.runtime.idle();
    expect(h.runtime.list({ prefix: o.instanceId })).toHaveLength(1);
    const history = h.runtime.store.history(o.instanceId).map((x) => x.event);
    expect(history.filter((e) => e.EventType === EventType.ExecutionStarted)).toHaveLength(1);
    expect(runsOf(o.instanceId, 'validate')).toHaveLength(1);
    expect((await typesOf(o.orderId)).filter((t) => t === 'OrderAccepted')).toHaveLength(1);
  });

  it('says the acceptance is pending while OrderSubmitted is on its way to the starter', async () => {
    const o = await submittedOrder([line('p-1', 1, '10.00')]);
    const before = await fetch(`${h.baseUrl}/api/orders/${o.orderId}/acceptance`, {
      headers: { authorization: h.supportAuthorization },
    });
    expect(before.status).toBe(202);
    expect(before.headers.get('retry-after')).toBe('1');
    expect(await before.json()).toMatchObject({
      runtimeStatus: 'Pending',
      pending: true,
      instanceId: o.instanceId,
    });
    await h.invoke('orderAcceptanceStarter', o.commits);
    await h.runUntil(finished(o.instanceId));
    const after = await fetch(`${h.baseUrl}/api/orders/${o.orderId}/acceptance`, {
      headers: { authorization: h.supportAuthorization },
    });
    expect(after.status).toBe(200);
    expect(await after.json()).toMatchObject({
      runtimeStatus: 'Completed',
      pending: false,
      output: { outcome: 'accepted' },
    });
  });

  it('starts no acceptance for a submission replayed by an import', async () => {
    const o = await submittedOrder([line('p-1', 1, '10.00')], 'import:olist');
    await h.invoke('orderAcceptanceStarter', o.commits);
    await h.runtime.idle();
    expect(statusOf(o.instanceId)).toBeUndefined();
    const res = await fetch(`${h.baseUrl}/api/orders/${o.orderId}/acceptance`, {
      headers: { authorization: h.supportAuthorization },
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ errors: [{ field: 'path.orderId' }] });
  });
});

describe('cancelling an order: the acceptance ends and the stock returns', () => {
  it('ends an acceptance awaiting an approval at once: outcome cancelled, stock released, approval 409', async () => {
    const o = await submittedOrder([line('p-c1', 1, '800.00'), line('p-c2', 1, '800.00')]);
    await h.invoke('orderAcceptanceStarter', o.commits);
    await h.runUntil(() => stepOf(o.instanceId) === 'awaiting-approval', { maxSteps: 0 });
    const cancel = await cancelled(o.orderId);
    await h.invoke('stockRelease', cancel);
    await h.runUntil(finished(o.instanceId), { maxSteps: 0 }); // no clock movement: not the deadline
    expect(statusOf(o.instanceId)).toMatchObject({
      runtimeStatus: 'Completed',
      customStatus: { step: 'cancelled', detail: 'the order is cancelled' },
      output: {
        outcome: 'cancelled',
        reason: 'the order is cancelled',
        reserved: ['p-c1', 'p-c2'],
        released: ['p-c1', 'p-c2'],
      },
    });
    expect(await reservationOf(o.orderId, 'p-c1')).toBe('released');
    expect(await reservationOf(o.orderId, 'p-c2')).toBe('released');
    const events = await appended(o.orderId);
    expect(events.map((e) => e.type)).toEqual([
      'StockReserved',
      'StockReserved',
      'OrderCancelled',
      'StockReleased',
      'StockReleased',
    ]);
    expect(
      events
        .slice(3)
        .map((e) => (e.data as { productId: string }).productId)
        .sort(),
    ).toEqual(['p-c1', 'p-c2']);
    // The deadline timer was cancelled: moving past it changes nothing.
    h.clock.advance(2 * hour);
    await h.runtime.idle();
    expect(await typesOf(o.orderId)).not.toContain('OrderRejected');

    const approval = await fetch(`${h.baseUrl}/api/orders/${o.orderId}/approval`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: h.supportAuthorization },
      body: JSON.stringify({ approved: true }),
    });
    expect(approval.status).toBe(409);
    expect(approval.headers.get('content-type')).toBe('application/problem+json');
    expect(await approval.json()).toMatchObject({
      type: '/problems/order-not-submitted',
      status: 409,
      orderStatus: 'cancelled',
      detail: `order ${o.orderId} is cancelled; only a submitted order can be approved`,
      errors: [{ field: 'path.orderId' }],
    });
  });

  it('releases nothing twice when the same OrderCancelled is delivered again', async () => {
    const o = await submittedOrder([line('p-twice', 1, '1500.00')]);
    await h.invoke('orderAcceptanceStarter', o.commits);
    await h.runUntil(() => stepOf(o.instanceId) === 'awaiting-approval', { maxSteps: 0 });
    const cancel = await cancelled(o.orderId);
    await Promise.all([h.invoke('stockRelease', cancel), h.invoke('stockRelease', cancel)]);
    await h.runUntil(finished(o.instanceId), { maxSteps: 0 });
    const release = vi.spyOn(getAcceptanceDeps().stock, 'release');
    await h.invoke('stockRelease', cancel);
    await h.runtime.idle();
    expect(release).not.toHaveBeenCalled();
    expect((await typesOf(o.orderId)).filter((t) => t === 'StockReleased')).toHaveLength(1);
    expect(statusOf(o.instanceId)?.output).toMatchObject({ outcome: 'cancelled', released: ['p-twice'] });
  });

  it('returns the stock of an order cancelled after it was accepted, so a later order can reserve it', async () => {
    const first = await submittedOrder([line('sku-1', 2, '10.00')]);
    await h.invoke('orderAcceptanceStarter', first.commits);
    await h.runUntil(finished(first.instanceId));
    expect(statusOf(first.instanceId)?.output).toMatchObject({ outcome: 'accepted' });
    expect(await getAcceptanceDeps().stock.available('sku-1')).toBe(1);

    const cancel = await cancelled(first.orderId);
    await h.invoke('stockRelease', cancel);
    expect(await getAcceptanceDeps().stock.available('sku-1')).toBe(3);
    expect(await reservationOf(first.orderId, 'sku-1')).toBe('released');
    const events = await eventsOf(first.orderId);
    const released = events.at(-1)!;
    expect(released).toMatchObject({
      type: 'StockReleased',
      data: { productId: 'sku-1', quantity: 2, reservationId: reservationIdOf(first.orderId, 'sku-1') },
      metadata: {
        actor: 'function:stockRelease',
        correlationId: `cancel-${first.orderId}`,
        causationId: `${first.orderId}:${events.length - 1}`,
      },
    });
    expect(events.at(-2)?.type).toBe('OrderCancelled');

    await h.invoke('stockRelease', cancel);
    expect((await typesOf(first.orderId)).filter((t) => t === 'StockReleased')).toHaveLength(1);
    expect(await getAcceptanceDeps().stock.available('sku-1')).toBe(3);

    const second = await submittedOrder([line('sku-1', 2, '10.00')]);
    await h.invoke('orderAcceptanceStarter', second.commits);
    await h.runUntil(finished(second.instanceId));
    expect(statusOf(second.instanceId)?.output).toMatchObject({ outcome: 'accepted', reserved: ['sku-1'] });
    const back = await cancelled(second.orderId);
    await h.invoke('stockRelease', back);
    expect(await getAcceptanceDeps().stock.available('sku-1')).toBe(3);
  });

  it('skips an acceptance whose order was cancelled before it started; nothing is reserved', async () => {
    const o = await submittedOrder([line('p-early', 1, '1500.00')]);
    const cancel = await cancelled(o.orderId);
    await h.invoke('stockRelease', cancel); // the acceptance does not exist yet: nothing to tell
    await h.invoke('orderAcceptanceStarter', o.commits);
    await h.runUntil(finished(o.instanceId), { maxSteps: 0 });
    expect(statusOf(o.instanceId)?.output).toMatchObject({
      outcome: 'skipped',
      reason: 'the order is cancelled, not submitted',
      reserved: [],
    });
    expect(await reservationOf(o.orderId, 'p-early')).toBeUndefined();
    expect((await appended(o.orderId)).map((e) => e.type)).toEqual(['OrderCancelled']);
  });

  it('ignores an orderCancelled event for an order that is still submitted, and goes on waiting', async () => {
    const o = await submittedOrder([line('p-hint', 1, '1500.00')]);
    await h.invoke('orderAcceptanceStarter', o.commits);
    await h.runUntil(() => stepOf(o.instanceId) === 'awaiting-approval', { maxSteps: 0 });
    const client = df.getClient(h.clientContext());
    await client.raiseEvent(o.instanceId, 'orderCancelled', { orderId: o.orderId });
    await h.runtime.idle();
    expect(statusOf(o.instanceId)).toMatchObject({
      runtimeStatus: 'Running',
      customStatus: { step: 'awaiting-approval', cancellationIgnored: 1 },
    });
    expect(await reservationOf(o.orderId, 'p-hint')).toBe('reserved');
    await client.raiseEvent(o.instanceId, 'approval', { approved: true, approver: 'ops-3' });
    await h.runUntil(finished(o.instanceId), { maxSteps: 0 });
    expect(statusOf(o.instanceId)?.output).toMatchObject({ outcome: 'accepted', approvedBy: 'ops-3' });
  });

  it('reads an approval or a deadline that comes while an orderCancelled event is being checked', async () => {
    const approved = await submittedOrder([line('p-race-1', 1, '1500.00')]);
    const late = await submittedOrder([line('p-race-2', 1, '1500.00')]);
    for (const o of [approved, late]) await h.invoke('orderAcceptanceStarter', o.commits);
    await h.runUntil(
      () =>
        stepOf(approved.instanceId) === 'awaiting-approval' &&
        stepOf(late.instanceId) === 'awaiting-approval',
      { maxSteps: 0 },
    );
    // validate (the check of the event) waits until the test lets it answer
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const orders = getServices().orders;
    const load = orders.load.bind(orders);
    vi.spyOn(orders, 'load').mockImplementation(async (id, options) => {
      if (id === approved.orderId || id === late.orderId) await gate;
      return load(id, options);
    });
    const recorded = (instanceId: string, type: number) =>
      h.runtime.store.history(instanceId).some((x) => x.event.EventType === type);
    const until = (done: () => boolean) => eventually(async () => (done() ? true : undefined));
    const client = df.getClient(h.clientContext());
    await client.raiseEvent(approved.instanceId, 'orderCancelled', {});
    await client.raiseEvent(late.instanceId, 'orderCancelled', {});
    await until(() => runsOf(approved.instanceId, 'validate').length === 2);
    await until(() => runsOf(late.instanceId, 'validate').length === 2);
    await client.raiseEvent(approved.instanceId, 'approval', { approved: true, approver: 'ops-4' });
    h.clock.advance(hour + 1);
    await until(
      () =>
        recorded(approved.instanceId, EventType.EventRaised) &&
        recorded(late.instanceId, EventType.TimerFired),
    );
    open();
    await h.runUntil(() => finished(approved.instanceId)() && finished(late.instanceId)(), { maxSteps: 0 });
    expect(statusOf(approved.instanceId)?.output).toMatchObject({ outcome: 'accepted', approvedBy: 'ops-4' });
    expect(statusOf(late.instanceId)?.output).toMatchObject({
      outcome: 'rejected',
      reason: expect.stringMatching(/^no approval before /),
      released: ['p-race-2'],
    });
    for (const o of [approved, late]) expect(runsOf(o.instanceId, 'validate')).toHaveLength(2);
  });
});
