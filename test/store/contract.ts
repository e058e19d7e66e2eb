import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CommitDocument,
  EventStore,
  StoredEventRecord,
  WrongExpectedVersionError,
} from '../../src/ports/eventStore';

export interface StoreUnderTest {
  store: EventStore;
  dispose(): Promise<void>;
}

export interface ContractOptions {
  /**
   * Says why a test cannot prove its point against this adapter's server (e.g. a test server without
   * atomic batches); the test then runs but only as a smoke test, and says so in its name.
   * `feed`: the feed test runs in full, but against a substitute for the change feed the server lacks; its
   * name says so.
   */
  limits?: { concurrency?: string; feed?: string };
}

let counter = 0;
/** A stream id unique to this run, so suites can share a database. */
export const newStreamId = (prefix = 'order') => `${prefix}-${process.pid}-${Date.now()}-${++counter}`;

export const event = (
  type: string,
  n: number,
  occurredAt = '2026-01-01T00:00:00.000Z',
): StoredEventRecord => ({
  type,
  schemaVersion: 1,
  data: { n },
  occurredAt,
  metadata: { correlationId: 'corr-1', actor: 'test' },
});

/**
 * The event store contract: every adapter runs this same suite, created from its factory.
 * Versions are event counts; a commit is the events of one append.
 */
export function eventStoreContract(
  name: string,
  factory: () => Promise<StoreUnderTest>,
  options: ContractOptions = {},
) {
  describe(`event store contract: ${name}`, () => {
    let sut: StoreUnderTest;
    let store: EventStore;
    beforeAll(async () => {
      sut = await factory();
      store = sut.store;
    });
    afterAll(async () => sut?.dispose());

    it('reads an unknown stream as version 0 with no events', async () => {
      expect(await store.readStream(newStreamId())).toEqual({ version: 0, events: [] });
    });

    it('appends a commit and reads the events back with versions, times and metadata', async () => {
      const id = newStreamId();
      const first = await store.append(id, 0, [event('A', 1), event('B', 2)]);
      expect(first.version).toBe(2);
      const second = await store.append(id, 2, [event('C', 3)]);
      expect(second.version).toBe(3);
      const slice = await store.readStream(id);
      expect(slice.version).toBe(3);
      expect(slice.events.map((e) => [e.type, e.version, e.data])).toEqual([
        ['A', 1, { n: 1 }],
        ['B', 2, { n: 2 }],
        ['C', 3, { n: 3 }],
      ]);
      expect(slice.events[0]).toMatchObject({
        orderId: id,
        metadata: { correlationId: 'corr-1', actor: 'test' },
      });
      expect(Date.parse(slice.events[0].recordedAt)).not.toBeNaN();
    });

    it('stores one commit document per append, shaped as the Cosmos commit', async () => {
      const id = newStreamId();
      const { commit } = await store.append(id, 0, [event('A', 1), event('B', 2)]);
      const expected: Partial<CommitDocument> = { id: '0000000000', orderId: id, kind: 'commit', i: 0, n: 2 };
      expect(commit).toMatchObject(expected);
      expect(commit.e).toHaveLength(2);
      const next = await store.append(id, 2, [event('C', 3)]);
      expect(next.commit).toMatchObject({ id: '0000000002', i: 2, n: 3 });
    });

    it('refuses a wrong expected version, below or above the stream, and writes nothing', async () => {
      const id = newStreamId();
      await store.append(id, 0, [event('A', 1)]);
      for (const expected of [0, 2, 7]) {
        await expect(store.append(id, expected, [event('X', 9)])).rejects.toBeInstanceOf(
          WrongExpectedVersionError,
        );
      }
      await expect(store.append(newStreamId(), 3, [event('X', 9)])).rejects.toBeInstanceOf(
        WrongExpectedVersionError,
      );
      expect((await store.readStream(id)).version).toBe(1);
    });

    it('refuses a malformed expected version and an empty commit', async () => {
      const id = newStreamId();
      await expect(store.append(id, -1, [event('A', 1)])).rejects.toBeInstanceOf(RangeError);
      await expect(store.append(id, 1.5, [event('A', 1)])).rejects.toBeInstanceOf(RangeError);
      await expect(store.append(id, 0, [])).rejects.toBeInstanceOf(RangeError);
      expect((await store.readStream(id)).version).toBe(0);
    });

    it('reads up to a version', async () => {
      const id = newStreamId();
      await store.append(id, 0, [event('A', 1), event('B', 2)]);
      await store.append(id, 2, [event('C', 3)]);
      const slice = await store.readStream(id, { toVersion: 2 });
      expect(slice.version).toBe(2);
      expect(slice.events.map((e) => e.type)).toEqual(['A', 'B']);
    });

    it('reads as of a business time: the prefix of events that had occurred by then', async () => {
      const id = newStreamId();
      await store.append(id, 0, [
        event('A', 1, '2020-01-01T00:00:00Z'),
        event('B', 2, '2020-01-03T00:00:00Z'),
      ]);
      await store.append(id, 2, [event('C', 3, '2020-01-02T00:00:00Z')]);
      expect((await store.readStream(id, { asOf: '2019-12-31T00:00:00Z' })).version).toBe(0);
      expect(
        (await store.readStream(id, { asOf: '2020-01-02T12:00:00Z' })).events.map((e) => e.type),
      ).toEqual(['A']);
      expect((await store.readStream(id, { asOf: '2020-01-03T00:00:00Z' })).version).toBe(3);
    });

    const feedNote = options.limits?.feed ? ` (not the change feed: ${options.limits.feed})` : '';

    it(`feeds every commit in commit order, resumable from a position${feedNote}`, async () => {
      const start = await drain(store, undefined);
      const a = newStreamId();
      const b = newStreamId();
      await store.append(a, 0, [event('A1', 1)]);
      await store.append(b, 0, [event('B1', 1)]);
      await store.append(a, 1, [event('A2', 2)]);
      const page1 = await store.readFeed(start, 2);
      const mine = (cs: CommitDocument[]) => cs.filter((c) => c.orderId === a || c.orderId === b);
      const page2 = await store.readFeed(page1.position, 100);
      const all = [...mine(page1.commits), ...mine(page2.commits)];
      expect(all.map((c) => `${c.orderId === a ? 'a' : 'b'}${c.i}`)).toEqual(['a0', 'b0', 'a1']);
      const empty = await store.readFeed(page2.position, 100);
      expect(mine(empty.commits)).toEqual([]);
    });

    it('keeps a checkpoint per consumer', async () => {
      const consumer = newStreamId('consumer');
      expect(await store.getCheckpoint(consumer)).toBeUndefined();
      await store.setCheckpoint(consumer, '41');
      await store.setCheckpoint(consumer, '42');
      await store.setCheckpoint(consumer + '-other', '7');
      expect(await store.getCheckpoint(consumer)).toBe('42');
    });

    const concurrencyNote = options.limits?.concurrency ? ` (smoke only: ${options.limits.concurrency})` : '';

    it(`lets exactly one of 20 concurrent writers with the same expected version win${concurrencyNote}`, async () => {
      const id = newStreamId();
      await store.append(id, 0, [event('A', 1)]);
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, k) => store.append(id, 1, [event('W', k)])),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      if (!options.limits?.concurrency) {
        expect(won).toHaveLength(1);
        for (const r of lost)
          expect((r as PromiseRejectedResult).reason).toBeInstanceOf(WrongExpectedVersionError);
      }
      const slice = await store.readStream(id);
      expect(slice.events.map((e) => e.version)).toEqual(
        Array.from({ length: slice.version }, (_, k) => k + 1),
      );
    });

    it(`never leaves a gap or an overlap, whatever expected versions writers send${concurrencyNote}`, async () => {
      const id = newStreamId();
      await Promise.allSettled(
        Array.from({ length: 40 }, (_, k) => store.append(id, k % 7, [event('W', k), event('W', k)])),
      );
      const slice = await store.readStream(id);
      expect(slice.events.map((e) => e.version)).toEqual(
        Array.from({ length: slice.version }, (_, k) => k + 1),
      );
      expect(slice.version % 2).toBe(0);
    });
  });
}

async function drain(store: EventStore, from: string | undefined): Promise<string | undefined> {
  let position = from;
  for (;;) {
    const page = await store.readFeed(position, 1000);
    if (page.commits.length === 0) return page.position ?? position;
    position = page.position;
  }
}
