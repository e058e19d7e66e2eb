import { afterAll, beforeAll, expect, it } from 'vitest';
import { acceptanceInstanceId } from '../../src/app/acceptance';
import { getServices } from '../../src/app/services';
import { toRecord } from '../../src/app/orderService';
import { DurableHarness, startDurableHarness } from '../support/durableHarness';

let h: DurableHarness;
beforeAll(async () => {
  h = await startDurableHarness({
    env: { APPROVAL_THRESHOLD: '1000.00', APPROVAL_TIMEOUT_SECONDS: '3600' },
    register: async () => {
      await import('../../src/functions/orderAcceptance');
      await import('../../src/functions/orderAcceptanceStarter');
    },
  });
});
afterAll(async () => { await h?.stop(); });

it('repro', async () => {
  const orderId = 'big-1';
  const { store } = getServices();
  const at = new Date().toISOString();
  const metadata = { actor: 'other-writer', correlationId: 'c' };
  await store.append(orderId, 0, [
    toRecord({ type: 'OrderCreated', data: { customerId: 'cust-1' }, occurredAt: at }, metadata),
    toRecord({ type: 'ProductAddedToOrder', data: { productId: 'p', quantity: 2, unitPrice: '5000000000000000.00', currency: 'BRL' }, occurredAt: at }, metadata),
    toRecord({ type: 'OrderSubmitted', data: { total: '10000000000000000.00', currency: 'BRL', lineCount: 1 }, occurredAt: at }, metadata),
  ]);
  const commits = (await store.readFeed(undefined, 100_000)).commits.filter((c) => c.orderId === orderId);
  await h.invoke('orderAcceptanceStarter', commits);
  await h.runUntil(() => ['Completed', 'Failed'].includes(h.runtime.status(acceptanceInstanceId(orderId))?.runtimeStatus ?? ''));
  console.log(JSON.stringify(h.runtime.status(acceptanceInstanceId(orderId)), null, 1));
  console.log(h.logs.filter(l => /warn|error/i.test(l)).join('\n'));
  expect(1).toBe(1);
});
