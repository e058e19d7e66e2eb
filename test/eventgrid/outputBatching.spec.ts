import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestHost, TestHost } from '../support/host';
import { Received, startSubscriber } from '../support/subscriber';

/**
 * Output batching (`maxEventsPerBatch`, `preferredBatchSizeInKilobytes` of a webhook subscription, as Event
 * Grid's): several events per request as a CloudEvents batch, within both limits, never two of one order in a
 * request, each order's events still in version order; a failed batch's events retried one by one.
 */

const key = 'output-batching-test-key';
const orders = 30;
const versions = 3;

interface Request {
  contentType: string;
  deliveryCount: number;
  bytes: number;
  /** The body was a JSON array. */
  array: boolean;
  events: { id: string; subject: string; orderversion: number }[];
  status: number;
}

let host: TestHost;
let subscriber: Awaited<ReturnType<typeof startSubscriber>>;

/** The answer of each webhook to its `n`-th POST (from 1). */
const answers: Record<string, (n: number) => number> = {
  batched: () => 200,
  small: () => 200,
  failing: (n) => (n <= 2 ? 503 : 200),
};

/** The POSTs `name` received, in order, with their events and the status it answered. */
function requestsOf(name: string): Request[] {
  return subscriber.posts(`/${name}`).map((r, k) => {
    const parsed = JSON.parse(r.body) as Request['events'] | Request['events'][number];
    return {
      contentType: String(r.headers['content-type']),
      deliveryCount: Number(r.headers['aeg-delivery-count']),
      bytes: Buffer.byteLength(r.body),
      array: Array.isArray(parsed),
      events: Array.isArray(parsed) ? parsed : [parsed],
      status: answers[name](k + 1),
    };
  });
}

beforeAll(async () => {
  subscriber = await startSubscriber(
    Object.fromEntries(
      Object.entries(answers).map(([name, answer]) => [
        `/${name}`,
        (_r: Received, n: number) => ({ status: answer(n) }),
      ]),
    ),
  );
  const base = subscriber.base;
  const only = ['com.contoso.test.Batched'];
  const file = join(mkdtempSync(join(tmpdir(), 'eg-batch-')), 'subscriptions.json');
  writeFileSync(
    file,
    JSON.stringify([
      { name: 'batched', endpointUrl: `${base}/batched`, includedEventTypes: only, maxEventsPerBatch: 25 },
      {
        name: 'small',
        endpointUrl: `${base}/small`,
        includedEventTypes: only,
        maxEventsPerBatch: 100,
        preferredBatchSizeInKilobytes: 1,
      },
      { name: 'failing', endpointUrl: `${base}/failing`, includedEventTypes: only, maxEventsPerBatch: 25 },
    ]),
  );
  host = await startTestHost({
    LOCAL_EVENTGRID_KEY: key,
    LOCAL_EVENTGRID_SUBSCRIPTIONS: file,
    // Retries after 20 ms, 60 ms, ...
    LOCAL_RETRY_SCALE: '0.002',
    LOCAL_EVENTGRID_POLL_MS: '5',
  });
  // Every order's events in version order, all in one publish: batches are there to be made.
  const events = Array.from({ length: versions }, (_, v) =>
    Array.from({ length: orders }, (_, k) => ({
      specversion: '1.0',
      id: `order-${k}:${v + 1}`,
      source: '/test/output-batching',
      type: 'com.contoso.test.Batched',
      subject: `orders/order-${k}`,
      orderversion: v + 1,
      datacontenttype: 'application/json',
      data: { note: 'x'.repeat(100) },
    })),
  ).flat();
  const res = await fetch(`${host.baseUrl}/eventgrid/api/events`, {
    method: 'POST',
    headers: {
      'content-type': 'application/cloudevents-batch+json',
      'aeg-sas-key': key,
      connection: 'close',
    },
    body: JSON.stringify(events),
  });
  expect(res.status).toBe(200);
  // Every webhook has taken every event.
  await eventually(async () =>
    Object.keys(answers).every((name) => delivered(name).size === orders * versions) ? true : undefined,
  );
});
afterAll(async () => {
  await host?.stop();
  await subscriber?.close();
});

/** Ids of the events `name` answered 200 for. */
const delivered = (name: string) =>
  new Set(
    requestsOf(name)
      .filter((r) => r.status === 200)
      .flatMap((r) => r.events.map((e) => e.id)),
  );

/** Per order, the versions of its first attempts in the order they arrived. */
function firstAttemptsByOrder(list: Request[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const r of list.filter((r) => r.deliveryCount === 0))
    for (const e of r.events) out.set(e.subject, [...(out.get(e.subject) ?? []), e.orderversion]);
  return out;
}

describe('output batching of webhook deliveries', () => {
  it('sends several events per request as a CloudEvents batch, at most maxEventsPerBatch, each once', () => {
    const list = requestsOf('batched');
    expect(list.every((r) => r.contentType.startsWith('application/cloudevents-batch+json'))).toBe(true);
    expect(list.every((r) => r.array)).toBe(true);
    expect(Math.max(...list.map((r) => r.events.length))).toBeGreaterThan(1);
    expect(Math.max(...list.map((r) => r.events.length))).toBeLessThanOrEqual(25);
    expect(list.reduce((n, r) => n + r.events.length, 0)).toBe(orders * versions);
    expect(list.length).toBeLessThan(orders * versions);
  });

  it("never puts two events of one order in a request, and keeps each order's events in version order", () => {
    for (const name of ['batched', 'small']) {
      for (const r of requestsOf(name)) {
        const subjects = r.events.map((e) => e.subject);
        expect(new Set(subjects).size, name).toBe(subjects.length);
      }
      for (const [subject, seen] of firstAttemptsByOrder(requestsOf(name)))
        expect(seen, `${name} ${subject}`).toEqual([1, 2, 3]);
    }
  });

  it('keeps a batch within preferredBatchSizeInKilobytes', () => {
    const list = requestsOf('small');
    expect(list.every((r) => r.bytes <= 1024)).toBe(true);
    expect(Math.max(...list.map((r) => r.events.length))).toBeGreaterThan(1);
  });

  it("retries a failed batch's events one by one, each still as a batch, until each is delivered", () => {
    const list = requestsOf('failing');
    const failed = list.filter((r) => r.status === 503).flatMap((r) => r.events.map((e) => e.id));
    expect(failed.length).toBeGreaterThan(1);
    const retries = list.filter((r) => r.deliveryCount > 0);
    expect(retries.every((r) => r.events.length === 1)).toBe(true);
    // A subscriber that asked for batches always gets an array, as from Event Grid.
    expect(retries.every((r) => r.contentType.startsWith('application/cloudevents-batch+json'))).toBe(true);
    expect(retries.every((r) => r.array)).toBe(true);
    expect(new Set(retries.filter((r) => r.status === 200).map((r) => r.events[0].id))).toEqual(
      new Set(failed),
    );
  });
});
