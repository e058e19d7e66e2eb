import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandInput, OrderService, snapshotSchema, toDomainEvent } from '../../src/app/orderService';
import { DomainError, fold } from '../../src/domain/decider';
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
  /** Runs of the snapshot property (random command sequences through OrderService); default 40. */
  snapshotRuns?: number;
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

    it('writes a group commit as separate commits, several per stream, each with its own metadata, the head at its last one', async () => {
      const [a, b] = [newStreamId(), newStreamId()];
      await store.append(b, 0, [event('B0', 0)]);
      const withMeta = (type: string, n: number, actor: string) => ({
        ...event(type, n),
        metadata: { actor },
      });
      const snapshot = (n: number) => ({ snapshot: { schema: 's1', state: { n } } });
      const outcomes = await store.appendCommits([
        {
          orderId: a,
          expectedVersion: 0,
          events: [withMeta('A1', 1, 'first'), event('A2', 2)],
          options: snapshot(2),
        },
        { orderId: b, expectedVersion: 1, events: [event('B1', 1)], options: snapshot(11) },
        { orderId: a, expectedVersion: 2, events: [withMeta('A3', 3, 'second')], options: snapshot(3) },
      ]);
      expect(
        outcomes.map((o) => o.ok && [o.result.commit.orderId, o.result.commit.i, o.result.version]),
      ).toEqual([
        [a, 0, 2],
        [b, 1, 2],
        [a, 2, 3],
      ]);
      const stream = await store.readStream(a);
      expect(stream.events.map((e) => [e.type, e.version, e.metadata.actor])).toEqual([
        ['A1', 1, 'first'],
        ['A2', 2, 'test'],
        ['A3', 3, 'second'],
      ]);
      // One commit document per entry of the group, as `append` writes them.
      const feed: CommitDocument[] = [];
      for (
        let position: string | undefined, page;
        (page = await store.readFeed(position, 100)).commits.length;
      ) {
        feed.push(...page.commits.filter((c) => c.orderId === a));
        position = page.position;
      }
      expect(feed.map((c) => [c.id, c.i, c.n])).toEqual([
        ['0000000000', 0, 2],
        ['0000000002', 2, 3],
      ]);
      expect(await store.readHead(a)).toEqual({
        version: 3,
        snapshot: { schema: 's1', version: 3, state: { n: 3 } },
      });
      expect(await store.readHead(b)).toEqual({
        version: 2,
        snapshot: { schema: 's1', version: 2, state: { n: 11 } },
      });
    });

    it('refuses a group commit entry with a stale expected version and its stream’s later entries, and writes the other streams', async () => {
      const [a, b] = [newStreamId(), newStreamId()];
      await store.append(a, 0, [event('A0', 0)], { snapshot: { schema: 's1', state: { n: 1 } } });
      const outcomes = await store.appendCommits([
        { orderId: a, expectedVersion: 0, events: [event('X', 9)] },
        { orderId: b, expectedVersion: 0, events: [event('B1', 1)] },
        // Its expected version is the stream's, but it was decided on top of the refused entry.
        { orderId: a, expectedVersion: 1, events: [event('Y', 9)] },
      ]);
      expect(outcomes.map((o) => o.ok)).toEqual([false, true, false]);
      for (const k of [0, 2]) {
        const outcome = outcomes[k];
        expect(!outcome.ok && outcome.error).toBeInstanceOf(WrongExpectedVersionError);
        expect(!outcome.ok && outcome.error).toMatchObject({ orderId: a, actualVersion: 1 });
      }
      expect((await store.readStream(a)).events.map((e) => e.type)).toEqual(['A0']);
      expect(await store.readHead(a)).toEqual({
        version: 1,
        snapshot: { schema: 's1', version: 1, state: { n: 1 } },
      });
      expect((await store.readStream(b)).version).toBe(1);
    });

    it('checks every entry of a group commit before writing any: an empty commit or a malformed version refuses the group', async () => {
      const [a, b] = [newStreamId(), newStreamId()];
      await expect(store.appendCommits([])).rejects.toBeInstanceOf(RangeError);
      for (const bad of [
        { orderId: b, expectedVersion: 0, events: [] },
        { orderId: b, expectedVersion: -1, events: [event('B', 1)] },
      ]) {
        await expect(
          store.appendCommits([{ orderId: a, expectedVersion: 0, events: [event('A', 1)] }, bad]),
        ).rejects.toBeInstanceOf(RangeError);
      }
      expect((await store.readStream(a)).version).toBe(0);
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

    it('reads the newest commits first, and counts commits and events per minute since a time', async () => {
      const a = newStreamId();
      const b = newStreamId();
      const first = await store.append(a, 0, [event('A', 1)]);
      await new Promise((r) => setTimeout(r, 5)); // distinct recordedAt milliseconds, so the order is defined
      await store.append(b, 0, [event('B', 1), event('B', 2)]);
      await new Promise((r) => setTimeout(r, 5));
      await store.append(a, 1, [event('A', 2), event('A', 3), event('A', 4)]);

      const latest = await store.readLatestCommits(3);
      expect(latest.map((c) => `${c.orderId === a ? 'a' : c.orderId === b ? 'b' : '?'}${c.i}`)).toEqual([
        'a1',
        'b0',
        'a0',
      ]);
      expect(await store.readLatestCommits(1)).toHaveLength(1);

      const minutes = await store.activitySince(first.commit.recordedAt);
      expect(minutes.reduce((n, m) => n + m.commits, 0)).toBe(3);
      expect(minutes.reduce((n, m) => n + m.events, 0)).toBe(6);
      for (const m of minutes) expect(m.minute).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00\.000Z$/);
      expect(minutes.map((m) => m.minute)).toEqual([...minutes.map((m) => m.minute)].sort());
      const later = new Date(Date.parse(latest[0].recordedAt) + 1).toISOString();
      expect(await store.activitySince(later)).toEqual([]);
    });

    it('refuses a latest-commits limit outside 1-1000 and a since that is not a time', async () => {
      await expect(store.readLatestCommits(0)).rejects.toThrow(RangeError);
      await expect(store.readLatestCommits(1001)).rejects.toThrow(RangeError);
      await expect(store.activitySince('yesterday')).rejects.toThrow(RangeError);
    });

    it('keeps the snapshot given with a commit in the head, at the commit’s version, and none when none is given', async () => {
      const id = newStreamId();
      expect(await store.readHead(id)).toBeUndefined();
      await store.append(id, 0, [event('A', 1), event('B', 2)], {
        snapshot: { schema: 's1', state: { n: 2 } },
      });
      const head = await store.readHead(id);
      expect(head).toEqual({ version: 2, snapshot: { schema: 's1', version: 2, state: { n: 2 } } });
      // A key named like a prototype property survives the round trip as an own property.
      const withProtoKey = JSON.parse('{"reservations":{"__proto__":{"q":1}}}') as object;
      await store.append(id, 2, [event('C', 3)], { snapshot: { schema: 's1', state: withProtoKey } });
      const again = await store.readHead(id);
      expect(again?.snapshot?.version).toBe(3);
      expect(JSON.stringify(again?.snapshot?.state)).toBe('{"reservations":{"__proto__":{"q":1}}}');
      await store.append(id, 3, [event('D', 4)]);
      expect(await store.readHead(id)).toEqual({ version: 4 });
    });

    it('leaves the head and its snapshot as they were when an append is refused', async () => {
      const id = newStreamId();
      await store.append(id, 0, [event('A', 1)], { snapshot: { schema: 's1', state: { n: 1 } } });
      await expect(
        store.append(id, 0, [event('X', 9)], { snapshot: { schema: 's1', state: { n: 99 } } }),
      ).rejects.toBeInstanceOf(WrongExpectedVersionError);
      await expect(
        store.append(id, 5, [event('X', 9)], { snapshot: { schema: 's1', state: { n: 99 } } }),
      ).rejects.toBeInstanceOf(WrongExpectedVersionError);
      expect(await store.readHead(id)).toEqual({
        version: 1,
        snapshot: { schema: 's1', version: 1, state: { n: 1 } },
      });
    });

    it('saves a rebuilt snapshot only while the head is at its version', async () => {
      const id = newStreamId();
      expect(await store.saveSnapshot(id, { schema: 's2', version: 1, state: {} })).toBe(false);
      expect(await store.readHead(id)).toBeUndefined();
      await store.append(id, 0, [event('A', 1)]);
      await store.append(id, 1, [event('B', 2)]);
      expect(await store.saveSnapshot(id, { schema: 's2', version: 1, state: { n: 1 } })).toBe(false);
      expect(await store.readHead(id)).toEqual({ version: 2 });
      expect(await store.saveSnapshot(id, { schema: 's2', version: 2, state: { n: 2 } })).toBe(true);
      expect(await store.readHead(id)).toEqual({
        version: 2,
        snapshot: { schema: 's2', version: 2, state: { n: 2 } },
      });
      // The guard still works after a snapshot was saved (on Cosmos DB it moved the head's etag).
      await expect(store.append(id, 1, [event('X', 9)])).rejects.toBeInstanceOf(WrongExpectedVersionError);
      expect((await store.append(id, 2, [event('C', 3)])).version).toBe(3);
    });

    it('reads a page of events after a version, across commits of several events, never above the head', async () => {
      const id = newStreamId();
      expect(await store.readEvents(id, 0, 10)).toEqual({ version: 0, events: [] });
      let v = 0;
      for (const size of [2, 3, 1, 4]) {
        const records = Array.from({ length: size }, (_, k) => event(`E${v + k + 1}`, v + k + 1));
        v = (await store.append(id, v, records)).version;
      }
      const versions = async (after: number, limit: number) => {
        const page = await store.readEvents(id, after, limit);
        expect(page.version).toBe(10);
        for (const e of page.events) expect(e.type).toBe(`E${e.version}`);
        return page.events.map((e) => e.version);
      };
      expect(await versions(0, 3)).toEqual([1, 2, 3]);
      expect(await versions(3, 3)).toEqual([4, 5, 6]);
      expect(await versions(1, 1)).toEqual([2]);
      expect(await versions(5, 1)).toEqual([6]);
      expect(await versions(6, 1000)).toEqual([7, 8, 9, 10]);
      expect(await versions(9, 5)).toEqual([10]);
      expect(await versions(10, 5)).toEqual([]);
      expect(await versions(99, 5)).toEqual([]);
      const all: number[] = [];
      for (let after = 0; ;) {
        const page = await versions(after, 4);
        if (page.length === 0) break;
        all.push(...page);
        after = page[page.length - 1];
      }
      expect(all).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      const [first] = (await store.readEvents(id, 0, 1)).events;
      expect(first).toMatchObject({ orderId: id, version: 1, metadata: { correlationId: 'corr-1' } });
      expect(Date.parse(first.recordedAt)).not.toBeNaN();
    });

    it('refuses a page limit outside 1-1000 and a malformed version to read after', async () => {
      const id = newStreamId();
      await expect(store.readEvents(id, 0, 0)).rejects.toThrow(RangeError);
      await expect(store.readEvents(id, 0, 1001)).rejects.toThrow(RangeError);
      await expect(store.readEvents(id, -1, 10)).rejects.toThrow(RangeError);
      await expect(store.readEvents(id, 1.5, 10)).rejects.toThrow(RangeError);
    });

    it('the head’s snapshot equals the fold of the full stream after random command sequences through OrderService (property)', async () => {
      const orders = new OrderService(store);
      const other = new OrderService(store);
      await fc.assert(
        fc.asyncProperty(
          fc.boolean(),
          fc.array(fc.tuple(commandArbitrary, fc.option(commandArbitrary, { freq: 4 })), {
            minLength: 1,
            maxLength: 14,
          }),
          async (seedV1, steps) => {
            const id = newStreamId('prop');
            // Sometimes a stream that starts with an OrderCreated of schema version 1 (upcast on read), written
            // without a snapshot: the first command folds the events and keeps the result.
            if (seedV1) {
              await store.append(id, 0, [
                {
                  type: 'OrderCreated',
                  schemaVersion: 1,
                  data: { customerId: 'c-old' },
                  occurredAt: '2025-12-31T00:00:00.000Z',
                  metadata: {},
                },
              ]);
            }
            const run = (service: OrderService, command: CommandInput) =>
              service.handle(id, command).catch((err: unknown) => {
                if (!(err instanceof DomainError)) throw err;
              });
            for (const [command, concurrent] of steps) {
              // A second writer at the same time, now and then: one of the two re-runs on the new state.
              await Promise.all([run(orders, command), concurrent ? run(other, concurrent) : undefined]);
            }
            const slice = await store.readStream(id);
            const head = await store.readHead(id);
            if (slice.version === 0) {
              expect(head).toBeUndefined();
              return;
            }
            const folded = fold(slice.events.map(toDomainEvent));
            expect(head?.version).toBe(slice.version);
            expect(head?.snapshot?.schema).toBe(snapshotSchema);
            expect(head?.snapshot?.version).toBe(slice.version);
            expect(json(head?.snapshot?.state)).toEqual(
              json({ state: folded, updatedAt: slice.events[slice.events.length - 1].occurredAt }),
            );
            const current = await orders.current(id);
            expect(current.source).toBe('snapshot');
            expect(json(current.state)).toEqual(json(folded));
            expect(current.version).toBe(slice.version);
          },
        ),
        { numRuns: options.snapshotRuns ?? 40 },
      );
    });

    it('ignores a snapshot of another fold or behind the head: the command folds the events and keeps the result', async () => {
      const orders = new OrderService(store);
      const at = '2026-01-02T10:00:00.000Z';
      const created: StoredEventRecord = {
        type: 'OrderCreated',
        schemaVersion: 2,
        data: { customerId: 'c-1' },
        occurredAt: at,
        metadata: {},
      };
      const bogus = { state: { exists: false, status: 'draft', lines: [], reservations: {} }, updatedAt: at };
      // Another fold's snapshot (an older or newer deployment): not this code's schema.
      const a = newStreamId();
      await store.append(a, 0, [created], { snapshot: { schema: 'order-state.v0.00000000', state: bogus } });
      const before = await orders.current(a);
      expect(before).toMatchObject({ source: 'events', version: 1, updatedAt: at });
      expect(before.state).toMatchObject({ exists: true, customerId: 'c-1' });
      expect((await store.readHead(a))?.snapshot?.schema).toBe(snapshotSchema);
      expect((await orders.current(a)).source).toBe('snapshot');
      // This code's schema, but a version behind the head (a head written with a snapshot at the wrong
      // version cannot come from append; saveSnapshot refuses it): also folded.
      const b = newStreamId();
      await store.append(b, 0, [created]);
      expect(await store.saveSnapshot(b, { schema: snapshotSchema, version: 1, state: bogus })).toBe(true);
      await store.append(b, 1, [
        { ...created, type: 'OrderCancelled', schemaVersion: 1, data: { reason: 'r' } },
      ]);
      const cancelled = await orders.current(b);
      expect(cancelled).toMatchObject({ source: 'events', version: 2 });
      expect(cancelled.state.status).toBe('cancelled');
      // A snapshot of the right schema and version but not of the shape this code writes: folded.
      const c = newStreamId();
      await store.append(c, 0, [created], {
        snapshot: { schema: snapshotSchema, state: { nonsense: true } },
      });
      expect(await orders.current(c)).toMatchObject({ source: 'events', state: { exists: true } });
      const added = await orders.handle(c, {
        type: 'AddProduct',
        line: { productId: 'p-1', quantity: 1, unitPrice: '1.00', currency: 'BRL' },
      });
      expect(added.version).toBe(2);
      expect((await orders.current(c)).source).toBe('snapshot');
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

const json = (x: unknown): unknown => (x === undefined ? undefined : JSON.parse(JSON.stringify(x)));

/**
 * Commands of every type over a few products (two named like prototype properties), two currencies and a
 * few business times that may run backwards; `history` now and then, so states a live rule refuses are
 * reached too. Many are refused or change nothing: the snapshot must stay exact through those as well.
 */
const productIds = ['p-1', 'p-2', '__proto__', 'constructor'];
const times = ['2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z', '2025-06-01T12:00:00.000Z'];
const commandArbitrary: fc.Arbitrary<CommandInput> = fc
  .tuple(
    fc.constantFrom(
      'CreateOrder',
      'AddProduct',
      'AddProduct',
      'AddProduct',
      'RemoveProduct',
      'SubmitOrder',
      'ReserveStock',
      'ReleaseStock',
      'RecordReservationFailure',
      'AcceptOrder',
      'RejectOrder',
      'CancelOrder',
      'ShipOrder',
      'DeliverOrder',
    ),
    fc.constantFrom(...productIds),
    fc.integer({ min: 1, max: 5 }),
    fc.constantFrom('BRL', 'BRL', 'USD'),
    fc.constantFrom(...times),
    fc.boolean(),
    fc.constantFrom('c-1', 'c-2'),
  )
  .map(([type, productId, quantity, currency, occurredAt, flag, customerId]): CommandInput => {
    const common = { occurredAt, ...(flag && type !== 'AddProduct' ? { history: true } : {}) };
    switch (type) {
      case 'CreateOrder':
        return { type, customerId, ...(flag ? { referralCode: 'ref-1' } : {}), occurredAt };
      case 'AddProduct':
        return {
          type,
          line: { productId, quantity, unitPrice: quantity % 2 ? '1.00' : '2.50', currency, sellerId: 's-1' },
          occurredAt,
        };
      case 'RemoveProduct':
      case 'ReleaseStock':
        return { type, productId, ...common };
      case 'ReserveStock':
        return { type, productId, quantity, reservationId: `r-${productId}`, ...common };
      case 'RecordReservationFailure':
        return { type, productId, quantity, reason: 'out of stock', ...common };
      case 'AcceptOrder':
        return { type, ...(flag ? { approvedBy: 'alice' } : {}), occurredAt };
      case 'RejectOrder':
      case 'CancelOrder':
        return { type, reason: `because ${productId}`, ...common };
      default:
        return { type: type as 'SubmitOrder' | 'ShipOrder' | 'DeliverOrder', ...common };
    }
  });
