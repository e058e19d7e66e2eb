import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileDeadLetterStore } from '../../src/adapters/fs/fileDeadLetterStore';
import { openDatabase } from '../../src/adapters/sqlite/database';
import { SqliteEventStore } from '../../src/adapters/sqlite/sqliteEventStore';
import { CommitDocument } from '../../src/ports/eventStore';
import { call, eventually, startTestHost, TestHost } from '../support/host';
import { startSubscriber } from '../support/subscriber';

// What these runs prove: the relay of the built app, run by the local host (its change feed, its retry policy
// and the retry context it passes), publishing through the real @azure/eventgrid client to a test topic server
// that refuses for good (413) or fails (500); the dead-letter files; the built replay CLI.

const topicKey = 'stand-in-key';
const root = resolve(__dirname, '../..');

/** A stand-in Event Grid topic: records the ids of the events of every request it accepts (200). */
async function standInTopic(answer: (body: string) => number) {
  const accepted: string[] = [];
  const server = await startSubscriber({
    '/api/events': (r) => {
      const status = answer(r.body);
      if (status === 200) accepted.push(...(JSON.parse(r.body) as { id: string }[]).map((e) => e.id));
      return { status };
    },
  });
  return { server, accepted, endpoint: `${server.base}/api/events` };
}

const hostEnv = (endpoint: string) => ({
  EVENTGRID_TOPIC_ENDPOINT: endpoint,
  EVENTGRID_TOPIC_KEY: topicKey,
  EVENTGRID_PUBLISH_TIMEOUT_MS: '2000',
  EVENTGRID_PUBLISH_MAX_RETRIES: '0',
  // The relay's 12 retries (about 19 minutes on Azure) take about a second.
  LOCAL_RETRY_SCALE: '0.001',
});

/**
 * True when the relay's lease (checkpoint) is past every commit in the store: nothing is left for it to read.
 */
async function leasePastEverything(dataDir: string): Promise<boolean> {
  const store = new SqliteEventStore(openDatabase(dataDir));
  try {
    const position = await store.getCheckpoint('eventGrid-eventGridRelay');
    return position !== undefined && (await store.readFeed(position, 100)).commits.length === 0;
  } finally {
    await store.close();
  }
}

const addItem = (host: TestHost, orderId: string, productId: string) =>
  call(host, 'POST', `/api/orders/${orderId}/items`, {
    productId,
    quantity: 1,
    unitPrice: '1.00',
    currency: 'EUR',
  });

describe('an event the topic refuses for good (413)', () => {
  let host: TestHost;
  let topic: Awaited<ReturnType<typeof standInTopic>>;
  beforeAll(async () => {
    // 413 for any request that holds the marked event, as Event Grid answers a request over 1 MB.
    topic = await standInTopic((body) => (body.includes('sku-poison') ? 413 : 200));
    // A publish that outlives the 2 s timeout on a loaded machine would be retried and the topic would see
    // its events twice: here every publish is waited for (the topic answers at once; only the host is slow).
    host = await startTestHost({ ...hostEnv(topic.endpoint), EVENTGRID_PUBLISH_TIMEOUT_MS: '60000' });
  });
  afterAll(async () => {
    await host?.stop();
    await topic?.server.close();
  });

  it('is dead-lettered with its status, and the events after it, of its order and of later orders, are published', async () => {
    const a = `poison-${Date.now()}`;
    const b = `${a}-later`;
    expect((await call(host, 'POST', '/api/orders', { customerId: 'c-1', orderId: a })).status).toBe(201);
    expect((await addItem(host, a, 'sku-poison')).status).toBe(200);
    expect((await addItem(host, a, 'sku-fine')).status).toBe(200);
    expect((await call(host, 'POST', '/api/orders', { customerId: 'c-2', orderId: b })).status).toBe(201);
    expect((await addItem(host, b, 'sku-fine')).status).toBe(200);

    await eventually(async () => (topic.accepted.includes(`${b}:2`) ? true : undefined));
    const ours = topic.accepted.filter((id) => id.startsWith(a));
    expect(ours.filter((id) => id.startsWith(`${a}:`))).toEqual([`${a}:1`, `${a}:3`]);
    expect(ours.filter((id) => id.startsWith(`${b}:`))).toEqual([`${b}:1`, `${b}:2`]);

    const letters = new FileDeadLetterStore(join(host.dataDir, 'dead-letters'));
    const letter = (await letters.list('publisher')).find((l) => (l.event as { id: string }).id === `${a}:2`);
    expect(letter).toBeDefined();
    expect(letter!.lastStatus).toBe(413);
    expect(letter!.reason).toMatch(/refused the event for good.*413/);
    expect(letter!.event).toMatchObject({ id: `${a}:2`, data: { productId: 'sku-poison' } });
    expect(await letters.list('parked')).toEqual([]);
    expect(host.logs.join('')).toMatch(new RegExp(`dead-lettered CloudEvent ${a}:2`));
  });
});

describe('a topic that keeps failing (500)', () => {
  let host: TestHost;
  let topic: Awaited<ReturnType<typeof standInTopic>>;
  let down = true;
  beforeAll(async () => {
    topic = await standInTopic(() => (down ? 500 : 200));
    host = await startTestHost(hostEnv(topic.endpoint));
  });
  afterAll(async () => {
    await host?.stop();
    await topic?.server.close();
  });

  it('parks the commits after the bounded retries so the lease moves on, and replay-parked publishes them once it recovers', async () => {
    const c = `parked-${Date.now()}`;
    const d = `${c}-later`;
    await call(host, 'POST', '/api/orders', { customerId: 'c-1', orderId: c });
    await addItem(host, c, 'sku-1');
    const letters = new FileDeadLetterStore(join(host.dataDir, 'dead-letters'));
    const parkedIds = async () =>
      (await letters.list('parked')).map((l) => {
        const commit = l.event as CommitDocument;
        return `${commit.orderId}:${commit.i}`;
      });
    await eventually(async () => ((await parkedIds()).includes(`${c}:1`) ? true : undefined));
    await eventually(async () => ((await leasePastEverything(host.dataDir)) ? true : undefined));

    // A later order fails too while the topic is down; it is parked as well, and the lease moves past it.
    await call(host, 'POST', '/api/orders', { customerId: 'c-2', orderId: d });
    await eventually(async () => ((await parkedIds()).includes(`${d}:0`) ? true : undefined));
    await eventually(async () => ((await leasePastEverything(host.dataDir)) ? true : undefined));

    expect((await parkedIds()).sort()).toEqual([`${c}:0`, `${c}:1`, `${d}:0`].sort());
    const letter = (await letters.list('parked')).find((l) => (l.event as CommitDocument).orderId === d)!;
    expect(letter.attempts).toBe(13);
    expect(letter.reason).toMatch(/not published after 13 attempt\(s\)/);
    expect(host.logs.join('')).toMatch(/eventGridRelay.*parked 1 commit\(s\) after 13 failed attempt\(s\)/);
    expect(topic.accepted).toEqual([]);

    down = false;
    const cli = await promisify(execFile)(process.execPath, [join(root, 'dist/src/cli/replayParked.js')], {
      cwd: mkdtempSync(join(tmpdir(), 'replay-cwd-')),
      env: {
        ...process.env,
        DATA_DIR: host.dataDir,
        EVENTGRID_TOPIC_ENDPOINT: topic.endpoint,
        EVENTGRID_TOPIC_KEY: topicKey,
        PUBLIC_BASE_URL: host.baseUrl,
      },
    });
    expect(cli.stdout).toMatch(/replayed 3 parked commit\(s\): 3 event\(s\) published, 0 dead-lettered/);
    expect(topic.accepted).toEqual([`${c}:1`, `${c}:2`, `${d}:1`]);
    expect(await letters.list('parked')).toEqual([]);
  });
});
