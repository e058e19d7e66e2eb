import Database from 'libsql';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EventType } from '../../src/local/durable/history';
import { authAs, call, eventually, startTestHost, TestHost } from '../support/host';

/*
 * Crash safety of the local durable runtime: the host process is killed (SIGKILL, no shutdown code runs)
 * twice while an acceptance waits between activities, first for a retry timer, then for an approval, and
 * started again on the same DATA_DIR each time. The runtime's append-only log of activity executions in
 * durable.db shows what ran.
 */

// The retry timer is an hour of the manual clock, which the test moves only after the first restart: the
// kill lands while the instance waits for it whatever the machine's speed (with a timer of a few seconds, a
// slow machine fired it before the kill, and the test no longer killed anything waiting).
const retryMs = 3_600_000;
const env = {
  LOCAL_DURABLE_KEY: 'restart-test-durable-key',
  LOCAL_DURABLE_CLOCK: 'manual',
  APPROVAL_THRESHOLD: '100.00',
  RESERVATION_RETRY_FIRST_INTERVAL_MS: String(retryMs),
  RESERVATION_RETRY_MAX_INTERVAL_MS: String(retryMs),
  STOCK_RESERVATION_FAILURES: '{"flaky-1": 1}',
};
const hosts: TestHost[] = [];
afterAll(async () => {
  for (const h of hosts) await h.stop();
});

async function start(dataDir?: string): Promise<TestHost> {
  const h = await startTestHost(env, dataDir);
  hosts.push(h);
  return h;
}

async function kill(h: TestHost): Promise<void> {
  h.process.kill('SIGKILL');
  await h.stop();
}

describe('local durable runtime across a killed host', () => {
  it('resumes an instance killed while it waited between activities, running each completed activity once', async () => {
    let host = await start();
    const orderId = `crash-${Date.now()}`;
    const instanceId = `acceptance-${orderId}`;
    await call(host, 'POST', '/api/orders', { customerId: 'cust-1', orderId });
    for (const productId of ['p-1', 'flaky-1']) {
      await call(host, 'POST', `/api/orders/${orderId}/items`, {
        productId,
        quantity: 1,
        unitPrice: '80.00',
        currency: 'BRL',
      });
    }
    expect((await call(host, 'POST', `/api/orders/${orderId}/submit`)).status).toBe(202);

    // 1. Killed while the failed reservation of flaky-1 waits for its retry timer.
    const historyTypes = async (): Promise<number[]> => {
      const res = await call(
        host,
        'GET',
        `/runtime/webhooks/durabletask/instances/${instanceId}?showHistory=true&code=${env.LOCAL_DURABLE_KEY}`,
      );
      return (res.body?.historyEvents ?? []).map((e: { EventType: number }) => e.EventType);
    };
    const count = (types: number[], type: number) => types.filter((t) => t === type).length;
    await eventually(async () => {
      const types = await historyTypes();
      // The two reservations run in parallel: p-1's must have ended too (under load it can still be running
      // when flaky-1's retry timer is created), or the kill lands during an activity, which then runs again.
      return count(types, EventType.TaskFailed) === 1 &&
        count(types, EventType.TaskCompleted) === 2 &&
        count(types, EventType.TaskScheduled) === 3 &&
        count(types, EventType.TimerCreated) === 1
        ? true
        : undefined;
    });
    await kill(host);

    // 2. Started again: still waiting for the timer; the clock is moved past it, the timer fires, the retry
    // reserves flaky-1, the instance waits for an approval; killed again.
    host = await start(host.dataDir);
    const restarted = await historyTypes();
    expect(count(restarted, EventType.TimerFired)).toBe(0);
    expect(count(restarted, EventType.TaskScheduled)).toBe(3);
    const moved = await call(
      host,
      'POST',
      `/runtime/webhooks/durabletask/local/clock/advance?ms=${retryMs}&code=${env.LOCAL_DURABLE_KEY}`,
    );
    expect(moved.status).toBe(200);
    await eventually(async () => {
      const res = await call(host, 'GET', `/api/orders/${orderId}/acceptance`);
      return res.body?.step === 'awaiting-approval' ? true : undefined;
    });
    await kill(host);

    // 3. Started again: still waiting; approved; accepted.
    host = await start(host.dataDir);
    const waiting = await call(host, 'GET', `/api/orders/${orderId}/acceptance`);
    expect(waiting.body).toMatchObject({ runtimeStatus: 'Running', step: 'awaiting-approval' });
    expect(
      (
        await call(
          host,
          'POST',
          `/api/orders/${orderId}/approval`,
          { approved: true },
          authAs(await host.token({ sub: 'ops-1', roles: ['orders.approve'] })),
        )
      ).status,
    ).toBe(202);
    const decided = await eventually(async () => {
      const res = await call(host, 'GET', `/api/orders/${orderId}/acceptance`);
      return res.status === 200 ? res : undefined;
    });
    expect(decided.body.output).toMatchObject({
      outcome: 'accepted',
      approvedBy: 'ops-1',
      reserved: ['p-1', 'flaky-1'],
    });
    const types: string[] = (await call(host, 'GET', `/api/orders/${orderId}/events`)).body.events.map(
      (e: { type: string }) => e.type,
    );
    expect(types.filter((t) => t.startsWith('Stock') || t === 'OrderAccepted')).toEqual([
      'StockReserved',
      'StockReserved',
      'OrderAccepted',
    ]);
    await host.stop();

    const db = new Database(join(host.dataDir, 'durable.db'), { readonly: true });
    const runs = db
      .prepare('SELECT task_id, name, outcome FROM durable_activity_runs WHERE instance_id = ? ORDER BY id')
      .all(instanceId) as { task_id: number; name: string; outcome: string | null }[];
    db.close();
    const perTask = new Map<number, number>();
    for (const r of runs) perTask.set(r.task_id, (perTask.get(r.task_id) ?? 0) + 1);
    expect([...perTask.values()].every((n) => n === 1)).toBe(true);
    expect(runs.every((r) => r.outcome !== null)).toBe(true);
    expect(runs.map((r) => `${r.name.replace('orderAcceptance-', '')}:${r.outcome}`).sort()).toEqual(
      [
        'validate:completed',
        'reserveStock:completed',
        'reserveStock:completed',
        'reserveStock:failed',
        'accept:completed',
      ].sort(),
    );
  });
});
