import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestHost, TestHost } from '../support/host';

/**
 * The local topic delivers one order's events (one `subject`) to each subscriber in the order they were
 * published, unless a retry intervenes: a delivery that failed may be overtaken by the later ones, as on
 * Event Grid, but first attempts never are. Several webhooks, some slow and one that fails now and then,
 * take many orders of several events each, published interleaved.
 */

const key = 'delivery-order-test-key';
const orders = 40;
const versions = 6;

interface Arrival {
  subject: string;
  version: number;
  deliveryCount: number;
  /** Answered 200. */
  ok?: boolean;
  /** Arrived while a first attempt of an earlier event of the same subject was still unanswered. */
  overlapped: boolean;
}

let host: TestHost;
let server: Server;
const arrivals = new Map<string, Arrival[]>();
/** First attempts each webhook has received and not answered yet, per subject. */
const unanswered = new Map<string, number>();

/** How each webhook answers: after a random delay up to `maxDelayMs`, 503 when `fails` says so. */
const webhooks: Record<string, { maxDelayMs: number; fails?: (a: Arrival) => boolean }> = {
  fast: { maxDelayMs: 0 },
  slow: { maxDelayMs: 15 },
  slower: { maxDelayMs: 40 },
  // Refuses version 2 of every third order until version 3 of that order has arrived: only a topic that
  // lets later events overtake a delivery waiting for its retry gets them all through.
  flaky: {
    maxDelayMs: 5,
    fails: (a) =>
      a.version === 2 &&
      orderNumber(a) % 3 === 0 &&
      !(arrivals.get('flaky') ?? []).some((b) => b.subject === a.subject && b.version === 3),
  },
};
const orderNumber = (a: Arrival) => Number(a.subject.slice('orders/order-'.length));
const retriedOrders = Array.from({ length: orders }, (_, k) => k).filter((k) => k % 3 === 0);

beforeAll(async () => {
  server = createServer((req, res) => {
    const name = new URL(req.url ?? '/', 'http://x').pathname.slice(1);
    if (req.method === 'OPTIONS') {
      res.writeHead(200, { 'WebHook-Allowed-Origin': String(req.headers['webhook-request-origin']) });
      res.end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const event = JSON.parse(Buffer.concat(chunks).toString()) as { subject: string; orderversion: number };
      const deliveryCount = Number(req.headers['aeg-delivery-count']);
      const open = `${name} ${event.subject}`;
      const arrival: Arrival = {
        subject: event.subject,
        version: event.orderversion,
        deliveryCount,
        overlapped: (unanswered.get(open) ?? 0) > 0,
      };
      if (deliveryCount === 0) unanswered.set(open, (unanswered.get(open) ?? 0) + 1);
      // Recorded when the delivery arrives, before answering: the order the subscriber sees them in.
      arrivals.set(name, [...(arrivals.get(name) ?? []), arrival]);
      const behaviour = webhooks[name];
      const fail = behaviour.fails?.(arrival) ?? false;
      setTimeout(() => {
        if (deliveryCount === 0) unanswered.set(open, unanswered.get(open)! - 1);
        arrival.ok = !fail;
        res.writeHead(fail ? 503 : 200);
        res.end();
      }, Math.random() * behaviour.maxDelayMs);
    });
  });
  // The host's delivery client keeps its sockets to the webhooks alive. A server that drops an idle one
  // (Node's default after 5 s) can do so just as the client sends the next delivery on it, which then fails
  // without reaching the webhook (a reset, then a retry): on a loaded machine a first attempt shows up as a
  // retry. As test/support/subscriber.ts, keep them for the whole test.
  server.keepAliveTimeout = 10 * 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const file = join(mkdtempSync(join(tmpdir(), 'eg-order-')), 'subscriptions.json');
  writeFileSync(
    file,
    JSON.stringify(Object.keys(webhooks).map((name) => ({ name, endpointUrl: `${base}/${name}` }))),
  );
  host = await startTestHost({
    LOCAL_EVENTGRID_KEY: key,
    LOCAL_EVENTGRID_SUBSCRIPTIONS: file,
    // Retries after 20 ms, 60 ms, ...
    LOCAL_RETRY_SCALE: '0.002',
    LOCAL_EVENTGRID_POLL_MS: '5',
  });
});
afterAll(async () => {
  await host?.stop();
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
});

const event = (order: number, version: number) => ({
  specversion: '1.0',
  id: `order-${order}:${version}`,
  source: '/test/delivery-order',
  // A type no function of the app handles: they ignore it.
  type: 'com.contoso.test.Ordered',
  subject: `orders/order-${order}`,
  orderversion: version,
  datacontenttype: 'application/json',
  data: { order, version },
});

async function publish(events: unknown[]): Promise<void> {
  const res = await fetch(`${host.baseUrl}/eventgrid/api/events`, {
    method: 'POST',
    // A fresh connection per publish: none left idle for the slow host to drop as the next one is sent.
    headers: {
      'content-type': 'application/cloudevents-batch+json',
      'aeg-sas-key': key,
      connection: 'close',
    },
    body: JSON.stringify(events),
  });
  expect(res.status).toBe(200);
}

/** Per subject, the versions in the order they arrived, keeping only the deliveries `keep` selects. */
function bySubject(list: Arrival[], keep: (a: Arrival) => boolean): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const a of list.filter(keep)) out.set(a.subject, [...(out.get(a.subject) ?? []), a.version]);
  return out;
}

const ascending = (n: number) => Array.from({ length: n }, (_, k) => k + 1);

describe('order of deliveries from the local topic', () => {
  it("delivers each order's events to each subscriber in version order unless a retry intervenes", async () => {
    // Published as the relay does: version v of an order only after version v - 1, without waiting for
    // the deliveries. Some orders' events come several in a row (a command appending several events, a
    // backlog), the others interleaved with other orders' events.
    const half = versions / 2;
    for (const from of [1, half + 1]) {
      const round = Array.from({ length: orders }, (_, k) =>
        Array.from({ length: half }, (_, v) => event(k, from + v)),
      );
      // Orders 0..orders/2-1: their events in a row, 4 orders per batch.
      for (let k = 0; k < orders / 2; k += 4) await publish(round.slice(k, k + 4).flat());
      // The others: one version of each per batch.
      for (let v = 0; v < half; v++) await publish(round.slice(orders / 2).map((events) => events[v]));
    }
    const total = orders * versions;
    // Every subscriber has taken every event.
    await eventually(async () =>
      Object.keys(webhooks).every(
        (name) =>
          new Set((arrivals.get(name) ?? []).filter((a) => a.ok).map((a) => `${a.subject}:${a.version}`))
            .size === total,
      )
        ? true
        : undefined,
    );

    for (const name of Object.keys(webhooks)) {
      const list = arrivals.get(name)!;
      const firsts = bySubject(list, (a) => a.deliveryCount === 0);
      expect(firsts.size, name).toBe(orders);
      for (const [subject, seen] of firsts) {
        // First attempts come in version order, for every subscriber, slow or failing.
        expect(seen, `${name} ${subject}: first deliveries`).toEqual(ascending(versions));
      }
      // One at a time: no first attempt was sent before the one before it had been answered.
      expect(
        list.filter((a) => a.deliveryCount === 0 && a.overlapped).map((a) => `${a.subject}:${a.version}`),
        `${name}: first deliveries sent while an earlier one of the same order was unanswered`,
      ).toEqual([]);
      if (!webhooks[name].fails) {
        // Nothing failed: every delivery was a first one, each exactly once.
        expect(
          list.every((a) => a.deliveryCount === 0),
          name,
        ).toBe(true);
        continue;
      }
      // The failing subscriber: only the refused version 2 was retried, and it was taken after version 3
      // of its order (overtaken, as Event Grid allows); every other event was taken at its first attempt.
      const retried = list.filter((a) => a.deliveryCount > 0);
      expect(new Set(retried.map((a) => `${a.subject}:${a.version}`))).toEqual(
        new Set(retriedOrders.map((k) => `orders/order-${k}:2`)),
      );
      const taken = bySubject(list, (a) => a.ok === true);
      for (const k of retriedOrders) {
        const seen = taken.get(`orders/order-${k}`)!;
        expect(
          [...seen].sort((a, b) => a - b),
          `order-${k}: all taken`,
        ).toEqual(ascending(versions));
        expect(seen.indexOf(2), `order-${k}: version 2 taken after version 3`).toBeGreaterThan(
          seen.indexOf(3),
        );
      }
    }
  });
});
