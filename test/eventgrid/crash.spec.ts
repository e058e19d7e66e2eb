import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { toRecord } from '../../src/app/orderService';
import { openDatabase } from '../../src/store/sqlite/database';
import { SqliteEventStore } from '../../src/store/sqlite/sqliteEventStore';
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
    subscriber = await startSubscriber();
    const dir = mkdtempSync(join(tmpdir(), 'eg-crash-'));
    const file = join(dir, 'subscriptions.json');
    writeFileSync(file, JSON.stringify([{ name: 'all-events', endpointUrl: `${subscriber.base}/all` }]));
    const env = { LOCAL_EVENTGRID_SUBSCRIPTIONS: file };
    const first = await startTestHost(env, join(dir, 'data'));
    hosts.push(first);

    // A backlog the relay and the topic are busy with when the process dies.
    const store = new SqliteEventStore(openDatabase(first.dataDir));
    const ids: string[] = [];
    for (let k = 0; k < 1500; k++) {
      await store.append(`crash-${k}`, 0, [
        toRecord({ type: 'OrderCreated', data: { customerId: 'c' }, occurredAt: new Date().toISOString() }),
      ]);
      ids.push(`crash-${k}:1`);
    }
    await store.close();
    const delivered = () => new Set(subscriber.posts('/all').map((r) => JSON.parse(r.body).id as string));
    await eventually(async () => (delivered().size >= 100 ? true : undefined));
    first.process.kill('SIGKILL');
    await first.stop();
    const beforeRestart = delivered().size;
    expect(beforeRestart).toBeLessThan(ids.length);

    const second = await startTestHost(env, first.dataDir);
    hosts.push(second);
    await eventually(async () => (ids.every((id) => delivered().has(id)) ? true : undefined), 60_000);
    expect(ids.filter((id) => !delivered().has(id))).toEqual([]);
  });
});
