import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authAs, call, eventually, startTestHost, TestHost } from '../support/host';

/*
 * Order acceptance over real HTTP on the local host (`node dist/src/local/main.js`, as `npm start` runs
 * it): submit → change feed → starter → durable runtime → activities, followed through the API's own
 * acceptance and approval routes. The durable clock is manual, so the deadline test moves time over HTTP.
 */

/** The durable webhooks' system key: the host takes it from LOCAL_DURABLE_KEY (else it draws one per run). */
const durableKey = 'api-test-durable-key-0123456789';
const webhook = (path: string) =>
  `/runtime/webhooks/durabletask/${path}${path.includes('?') ? '&' : '?'}code=${durableKey}`;

let host: TestHost;
beforeAll(async () => {
  host = await startTestHost({
    APPROVAL_THRESHOLD: '1000.00',
    APPROVAL_TIMEOUT_SECONDS: '3600',
    RESERVATION_RETRY_FIRST_INTERVAL_MS: '20',
    LOCAL_DURABLE_CLOCK: 'manual',
    LOCAL_DURABLE_KEY: durableKey,
    STOCK_LEVELS: '{"sku-1": 3}',
  });
});
afterAll(async () => {
  await host?.stop();
});

const newId = (p: string) => `${p}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;

async function submittedOrder(lines: { productId: string; quantity: number; unitPrice: string }[]) {
  const orderId = newId('acc');
  expect((await call(host, 'POST', '/api/orders', { customerId: 'cust-1', orderId })).status).toBe(201);
  for (const l of lines) {
    expect((await call(host, 'POST', `/api/orders/${orderId}/items`, { ...l, currency: 'BRL' })).status).toBe(
      200,
    );
  }
  const submitted = await call(host, 'POST', `/api/orders/${orderId}/submit`);
  return { orderId, submitted };
}

/** Polls a status URL (absolute or relative) until it answers 200. */
async function pollUntilDecided(url: string) {
  const path = url.startsWith('http') ? new URL(url).pathname : url;
  return eventually(async () => {
    const res = await call(host, 'GET', path);
    expect([200, 202]).toContain(res.status);
    return res.status === 200 ? res : undefined;
  });
}

const stepIs = (orderId: string, step: string) =>
  eventually(async () => {
    const res = await call(host, 'GET', `/api/orders/${orderId}/acceptance`);
    return res.body?.step === step ? res : undefined;
  });

describe('order acceptance over HTTP on the local host', () => {
  it('answers submit with 202 and where to follow the acceptance; polling it ends accepted', async () => {
    const { orderId, submitted } = await submittedOrder([
      { productId: 'p-1', quantity: 2, unitPrice: '10.00' },
    ]);
    expect(submitted.status).toBe(202);
    expect(submitted.headers.get('location')).toBe(`/api/orders/${orderId}/acceptance`);
    expect(submitted.headers.get('content-location')).toBe(`/api/orders/${orderId}`);
    expect(submitted.body).toMatchObject({
      orderId,
      status: 'submitted',
      acceptance: {
        instanceId: `acceptance-${orderId}`,
        statusQueryGetUri: `${host.baseUrl}/api/orders/${orderId}/acceptance`,
        sendEventPostUri: `${host.baseUrl}/api/orders/${orderId}/approval`,
      },
    });
    const decided = await pollUntilDecided(submitted.body.acceptance.statusQueryGetUri);
    expect(decided.body).toMatchObject({
      runtimeStatus: 'Completed',
      step: 'accepted',
      output: { outcome: 'accepted', reserved: ['p-1'] },
    });
    expect((await call(host, 'GET', `/api/orders/${orderId}`)).body.status).toBe('accepted');
  });

  it('above the threshold: submit, approve, accepted with the approver recorded', async () => {
    const { orderId, submitted } = await submittedOrder([
      { productId: 'p-9', quantity: 3, unitPrice: '500.00' },
    ]);
    expect(submitted.status).toBe(202);
    const waiting = await stepIs(orderId, 'awaiting-approval');
    expect(waiting.status).toBe(202);
    expect(waiting.body.customStatus).toMatchObject({ total: '1500.00', currency: 'BRL' });
    const approver = await host.token({ sub: 'ops-1', roles: ['orders.approve'] });
    const approval = await call(
      host,
      'POST',
      `/api/orders/${orderId}/approval`,
      { approved: true, comment: 'known customer' },
      authAs(approver),
    );
    expect(approval.status).toBe(202);
    expect(approval.headers.get('location')).toBe(`/api/orders/${orderId}/acceptance`);
    const decided = await pollUntilDecided(`/api/orders/${orderId}/acceptance`);
    expect(decided.body.output).toMatchObject({ outcome: 'accepted', approvedBy: 'ops-1' });
    const trail = await call(host, 'GET', `/api/orders/${orderId}/events`);
    expect(trail.body.events.at(-1)).toMatchObject({ type: 'OrderAccepted', data: { approvedBy: 'ops-1' } });
  });

  it('rejects and releases the reservations when the approval deadline passes (manual clock moved over HTTP)', async () => {
    const { orderId } = await submittedOrder([
      { productId: 'p-a', quantity: 1, unitPrice: '900.00' },
      { productId: 'p-b', quantity: 1, unitPrice: '900.00' },
    ]);
    await stepIs(orderId, 'awaiting-approval');
    const unkeyed = await call(host, 'POST', '/runtime/webhooks/durabletask/local/clock/advance?ms=3600001');
    expect(unkeyed.status).toBe(401);
    const moved = await call(host, 'POST', webhook('local/clock/advance?ms=3600001'));
    expect(moved.status).toBe(200);
    const decided = await pollUntilDecided(`/api/orders/${orderId}/acceptance`);
    expect(decided.body.output).toMatchObject({ outcome: 'rejected', released: ['p-a', 'p-b'] });
    const types: string[] = (await call(host, 'GET', `/api/orders/${orderId}/events`)).body.events.map(
      (e: { type: string }) => e.type,
    );
    expect(types.slice(-5)).toEqual([
      'StockReserved',
      'StockReserved',
      'StockReleased',
      'StockReleased',
      'OrderRejected',
    ]);
  });

  it('answers problem+json naming the field for a bad approval, an approval nobody waits for, an order never submitted', async () => {
    const orderId = newId('draft');
    await call(host, 'POST', '/api/orders', { customerId: 'cust-1', orderId });
    const bad = await call(host, 'POST', `/api/orders/${orderId}/approval`, { approved: 'yes' });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toBe('application/problem+json');
    expect(bad.body.errors.map((e: { field: string }) => e.field)).toEqual(
      expect.arrayContaining(['body.approved']),
    );
    const named = await call(host, 'POST', `/api/orders/${orderId}/approval`, {
      approved: true,
      approver: 'x',
    });
    expect(named.status).toBe(400);
    expect(named.body.errors.map((e: { field: string }) => e.field)).toEqual(['body.approver']);
    const nobody = await call(host, 'POST', `/api/orders/${orderId}/approval`, { approved: true });
    expect(nobody.status).toBe(404);
    expect(nobody.headers.get('content-type')).toBe('application/problem+json');
    expect(nobody.body).toMatchObject({
      type: '/problems/no-approval-awaited',
      errors: [{ field: 'path.orderId' }],
    });
    const notSubmitted = await call(host, 'GET', `/api/orders/${orderId}/acceptance`);
    expect(notSubmitted).toMatchObject({ status: 404, body: { type: '/problems/no-acceptance' } });
    expect((await call(host, 'GET', `/api/orders/${newId('none')}/acceptance`)).status).toBe(404);
    expect((await call(host, 'GET', '/api/orders/bad%20id/acceptance')).body.errors[0].field).toBe(
      'path.orderId',
    );
  });

  it('guards the durable webhooks with the system key, and ignores a malformed approval raised through them', async () => {
    const { orderId } = await submittedOrder([{ productId: 'p-7', quantity: 2, unitPrice: '700.00' }]);
    const instanceId = `acceptance-${orderId}`;
    await stepIs(orderId, 'awaiting-approval');
    const malformed = { approved: 'no', approver: { x: 1 } };
    for (const [method, path, body] of [
      ['POST', `instances/${instanceId}/raiseEvent/approval`, malformed],
      ['POST', `instances/${instanceId}/terminate?reason=x`, undefined],
      ['DELETE', `instances/${instanceId}`, undefined],
      ['GET', `instances/${instanceId}`, undefined],
    ] as const) {
      const res = await call(host, method, `/runtime/webhooks/durabletask/${path}`, body);
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(res.body).toMatchObject({ status: 401, errors: [{ field: 'query.code' }] });
    }
    expect((await call(host, 'GET', webhook('instances/%ZZ'))).status).toBe(400);
    expect(host.logs.join('')).not.toContain(durableKey);

    const raised = await call(
      host,
      'POST',
      webhook(`instances/${instanceId}/raiseEvent/approval`),
      malformed,
    );
    expect(raised.status).toBe(202);
    const ignored = await eventually(async () => {
      const res = await call(host, 'GET', `/api/orders/${orderId}/acceptance`);
      return res.body?.customStatus?.invalidApprovalIgnored === 1 ? res : undefined;
    });
    expect(ignored.body).toMatchObject({ runtimeStatus: 'Running', step: 'awaiting-approval' });
    expect((await call(host, 'GET', `/api/orders/${orderId}`)).body.status).toBe('submitted');

    const approval = await call(
      host,
      'POST',
      `/api/orders/${orderId}/approval`,
      { approved: true },
      authAs(await host.token({ sub: 'ops-2', roles: ['orders.approve'] })),
    );
    expect(approval.status).toBe(202);
    const decided = await pollUntilDecided(`/api/orders/${orderId}/acceptance`);
    expect(decided.body.output).toMatchObject({ outcome: 'accepted', approvedBy: 'ops-2' });
    const trail = await call(host, 'GET', `/api/orders/${orderId}/events`);
    expect(trail.body.events.at(-1)).toMatchObject({ type: 'OrderAccepted', data: { approvedBy: 'ops-2' } });
  });

  it('says when an acceptance was terminated before it decided (the order stays submitted)', async () => {
    const { orderId } = await submittedOrder([{ productId: 'p-t', quantity: 1, unitPrice: '2000.00' }]);
    await stepIs(orderId, 'awaiting-approval');
    const terminated = await call(
      host,
      'POST',
      webhook(`instances/acceptance-${orderId}/terminate?reason=ops`),
    );
    expect(terminated.status).toBe(202);
    const status = await pollUntilDecided(`/api/orders/${orderId}/acceptance`);
    expect(status.body).toMatchObject({
      runtimeStatus: 'Terminated',
      detail: expect.stringMatching(
        new RegExp(
          `^the acceptance was terminated \\(ops\\) before it decided: order ${orderId} stays submitted`,
        ),
      ),
    });
    expect(status.body.detail).toContain('its stock stays reserved (p-t)');
    expect((await call(host, 'GET', `/api/orders/${orderId}`)).body.status).toBe('submitted');
  });
});

describe('cancelling an order over HTTP on the local host', () => {
  const typesOf = async (orderId: string): Promise<string[]> =>
    (await call(host, 'GET', `/api/orders/${orderId}/events`)).body.events.map(
      (e: { type: string }) => e.type,
    );

  it('ends an acceptance awaiting an approval: cancelled, stock released, a later approval 409', async () => {
    const { orderId } = await submittedOrder([{ productId: 'p-x1', quantity: 2, unitPrice: '800.00' }]);
    await stepIs(orderId, 'awaiting-approval');
    expect(
      (await call(host, 'POST', `/api/orders/${orderId}/cancel`, { reason: 'no longer needed' })).status,
    ).toBe(200);
    const decided = await pollUntilDecided(`/api/orders/${orderId}/acceptance`);
    expect(decided.body).toMatchObject({
      runtimeStatus: 'Completed',
      step: 'cancelled',
      output: { outcome: 'cancelled', reserved: ['p-x1'], released: ['p-x1'] },
    });
    const types = await eventually(async () => {
      const t = await typesOf(orderId);
      return t.includes('StockReleased') ? t : undefined;
    });
    expect(types.filter((t) => t === 'StockReleased')).toHaveLength(1);
    expect(types).not.toContain('OrderRejected');
    const approval = await call(host, 'POST', `/api/orders/${orderId}/approval`, { approved: true });
    expect(approval.status).toBe(409);
    expect(approval.headers.get('content-type')).toBe('application/problem+json');
    expect(approval.body).toMatchObject({ type: '/problems/order-not-submitted', orderStatus: 'cancelled' });
    expect(approval.body.detail).toContain('is cancelled');
  });

  it('returns the stock of an accepted order when it is cancelled, so the next order gets it (STOCK_LEVELS sku-1: 3)', async () => {
    const first = await submittedOrder([{ productId: 'sku-1', quantity: 2, unitPrice: '10.00' }]);
    const accepted = await pollUntilDecided(`/api/orders/${first.orderId}/acceptance`);
    expect(accepted.body.output).toMatchObject({ outcome: 'accepted' });
    const cancel = await call(host, 'POST', `/api/orders/${first.orderId}/cancel`, { reason: 'returned' });
    expect(cancel.status).toBe(200);
    const trail = await eventually(async () => {
      const res = await call(host, 'GET', `/api/orders/${first.orderId}/events`);
      return res.body.events.at(-1)?.type === 'StockReleased' ? res.body.events : undefined;
    });
    expect(trail.at(-1)).toMatchObject({
      type: 'StockReleased',
      data: { productId: 'sku-1', quantity: 2 },
      metadata: { actor: 'function:stockRelease' },
    });
    expect(trail.at(-2).type).toBe('OrderCancelled');

    const second = await submittedOrder([{ productId: 'sku-1', quantity: 2, unitPrice: '10.00' }]);
    const decided = await pollUntilDecided(`/api/orders/${second.orderId}/acceptance`);
    expect(decided.body.output).toMatchObject({ outcome: 'accepted', reserved: ['sku-1'] });
    expect((await typesOf(first.orderId)).filter((t) => t === 'StockReleased')).toHaveLength(1);
  });
});
