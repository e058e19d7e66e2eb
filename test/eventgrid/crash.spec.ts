import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { toRecord } from '../../src/app/orderService';
import { openDatabase } from '../../src/adapters/sqlite/database';
import { SqliteEventStore } from '../../src/adapters/sqlite/sqliteEventStore';
import { eventually, startTestHost, TestHost } from '../support/host';
import { startSubscriber } from '../support/subscriber';

let subscriber: Awaited<ReturnType<typeof startSubscriber>>;
const hosts: TestHost[] = [];

afterAll(async () => {
  for (const h of hosts) await h.stop();
  await subscriber?.close();
});

describe('a crash of the local host', () => {
  it('loses no committed event: after SIGKILL mid-stream and a restart, every event reaches the webhook', async () => {
    // The webhook takes the first 50 orders and refuses the rest (503, so the topic retries them) until the
    // host has been killed: the kill is mid-stream whatever the machine's speed.
    const backlog = 300;
    const accepted = new Set<string>();
    let gateOpen = false;
    subscriber = await startSubscriber({
      '/all': (req) => {
        if (req.method !== 'POST') return { status: 200 };
        const id = JSON.parse(req.body).id as string;
        if (!gateOpen && Number(/^crash-(\d+):/.exec(id)?.[1]) >= 50) return { status: 503 };
        accepted.add(id);
        return { status: 200 };
      },
    });
    const dir = mkdtempSync(join(tmpdir(), 'eg-crash-'));
    const file = join(dir, 'subscriptions.json');
    writeFileSync(file, JSON.stringify([{ name: 'all-events', endpointUrl: `${subscriber.base}/all` }]));
    // Retries after 0.1 s, 0.3 s, 0.6 s, 3 s, ...; events expire after 14 minutes.
    const env = { LOCAL_EVENTGRID_SUBSCRIPTIONS: file, LOCAL_RETRY_SCALE: '0.01' };
    const first = await startTestHost(env, join(dir, 'data'));
    hosts.push(first);

    // A backlog the relay and the topic are busy with when the process dies.
    const store = new SqliteEventStore(openDatabase(first.dataDir));
    const ids: string[] = [];
    for (let k = 0; k < backlog; k++) {
      await store.append(`crash-${k}`, 0, [
        toRecord({ type: 'OrderCreated', data: { customerId: 'c' }, occurredAt: new Date().toISOString() }),
      ]);
      ids.push(`crash-${k}:1`);
    }
    await store.close();
    await eventually(async () => (accepted.size >= 50 ? true : undefined));
    first.process.kill('SIGKILL');
    await first.stop();
    expect(accepted.size).toBe(50);

    gateOpen = true;
    const second = await startTestHost(env, first.dataDir);
    hosts.push(second);
    await eventually(async () => (ids.every((id) => accepted.has(id)) ? true : undefined), 600_000);
    expect(ids.filter((id) => !accepted.has(id))).toEqual([]);
  });
});
