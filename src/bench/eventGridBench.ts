import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { devSignInKey, signDevToken } from '../adapters/devSignIn';
import { toRecord } from '../app/orderService';
import { openDatabase } from '../adapters/sqlite/database';
import { SqliteEventStore } from '../adapters/sqlite/sqliteEventStore';

export interface EventGridFigures {
  latency: { samples: number; p50Ms: number; p99Ms: number; maxMs: number };
  throughput: { events: number; seconds: number; deliveredPerSecond: number };
  pollMs: number;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

/**
 * End to end through the local host, as a user runs it: HTTP command → commit → change feed → relay →
 * `@azure/eventgrid` client → local topic → webhook. Latency is from the HTTP answer of `POST /api/orders`
 * to the arrival of its OrderCreated at a webhook (sequential orders); throughput is how fast a backlog
 * of events written straight into the store reaches the webhook. Both include the change-feed poll
 * interval (`LOCAL_CHANGE_FEED_POLL_MS`, default 200 ms), which dominates the latency.
 */
export async function eventGridEndToEnd(
  repoRoot: string,
  orders = 200,
  backlog = 3000,
): Promise<EventGridFigures> {
  const arrivals = new Map<string, number>();
  const webhook: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'OPTIONS') {
        res.writeHead(200, { 'WebHook-Allowed-Origin': String(req.headers['webhook-request-origin']) }).end();
        return;
      }
      const event = JSON.parse(Buffer.concat(chunks).toString()) as { id: string };
      if (!arrivals.has(event.id)) arrivals.set(event.id, performance.now());
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', r));
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-eventgrid-'));
  const subscriptions = join(dataDir, 'subscriptions.json');
  const hookUrl = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/events`;
  writeFileSync(subscriptions, JSON.stringify([{ name: 'bench', endpointUrl: hookUrl }]));
  const pollMs = 200;
  const host: ChildProcess = spawn(process.execPath, [resolve(repoRoot, 'dist/src/local/main.js')], {
    cwd: repoRoot,
    env: {
      ...process.env,
      PORT: '0',
      DATA_DIR: dataDir,
      LOCAL_EVENTGRID_SUBSCRIPTIONS: subscriptions,
      LOCAL_CHANGE_FEED_POLL_MS: String(pollMs),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const base = await new Promise<string>((res, rej) => {
      let out = '';
      host.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /listening on (http:\/\/\S+)\/api/.exec(out);
        if (m) {
          out = '';
          res(m[1]);
        }
      });
      host.once('exit', (code) => rej(new Error(`host exited with ${code}`)));
    });
    const waitFor = async (ids: string[], timeoutMs: number) => {
      const end = Date.now() + timeoutMs;
      while (ids.some((id) => !arrivals.has(id))) {
        if (Date.now() > end) throw new Error('events did not arrive in time');
        await new Promise((r) => setTimeout(r, 2));
      }
    };

    // Every command needs a sign-in (issue 9): a development token of the host's data folder, as an admin.
    const token = await signDevToken(devSignInKey(dataDir), { sub: 'bench', roles: ['orders.admin'] }, 3600);
    const latencies: number[] = [];
    for (let k = 0; k < orders; k++) {
      const orderId = `lat-${k}`;
      const res = await fetch(`${base}/api/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ customerId: 'bench', orderId }),
      });
      await res.arrayBuffer();
      if (res.status !== 201) throw new Error(`POST /api/orders answered ${res.status}`);
      const answered = performance.now();
      await waitFor([`${orderId}:1`], 30_000);
      latencies.push(arrivals.get(`${orderId}:1`)! - answered);
    }
    latencies.sort((a, b) => a - b);

    const store = new SqliteEventStore(openDatabase(dataDir));
    const ids: string[] = [];
    const started = performance.now();
    for (let k = 0; k < backlog; k++) {
      const orderId = `tp-${k}`;
      await store.append(orderId, 0, [
        toRecord({
          type: 'OrderCreated',
          data: { customerId: 'bench' },
          occurredAt: new Date().toISOString(),
        }),
      ]);
      ids.push(`${orderId}:1`);
    }
    await waitFor(ids, 120_000);
    const seconds = (performance.now() - started) / 1000;
    await store.close();
    return {
      latency: {
        samples: latencies.length,
        p50Ms: Math.round(percentile(latencies, 0.5) * 10) / 10,
        p99Ms: Math.round(percentile(latencies, 0.99) * 10) / 10,
        maxMs: Math.round(latencies[latencies.length - 1] * 10) / 10,
      },
      throughput: {
        events: backlog,
        seconds: Math.round(seconds * 100) / 100,
        deliveredPerSecond: Math.round(backlog / seconds),
      },
      pollMs,
    };
  } finally {
    host.kill('SIGTERM');
    await new Promise((r) => host.once('exit', r));
    webhook.closeAllConnections();
    webhook.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
