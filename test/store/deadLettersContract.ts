import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeadLetterRecord, DeadLetterStore } from '../../src/ports/deadLetters';

export interface DeadLetterStoreUnderTest {
  store: DeadLetterStore;
  dispose(): Promise<void>;
}

let counter = 0;
/** A channel unique to this run, so cases can share one store (and one container). */
export const newChannel = (prefix = 'test') => `${prefix}-${process.pid}-${Date.now()}-${++counter}`;

/** A letter whose event carries its id, so a listed letter can be told apart. */
export const letter = (id: string, extra: Record<string, unknown> = {}): DeadLetterRecord => ({
  reason: `could not deliver ${id}`,
  deadLetteredAt: '2026-01-01T00:00:00.000Z',
  attempts: 3,
  lastStatus: 503,
  event: { id, type: 'com.contoso.orders.OrderCreated', data: { orderId: 'order-1', ...extra } },
});

const idOf = (r: DeadLetterRecord) => (r.event as { id: string }).id;
const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The dead-letter store contract (src/ports/deadLetters.ts): every adapter runs this same suite, created
 * from its factory. Each case uses channels of its own.
 */
export function deadLetterStoreContract(name: string, factory: () => Promise<DeadLetterStoreUnderTest>) {
  describe(`dead-letter store contract: ${name}`, () => {
    let sut: DeadLetterStoreUnderTest;
    let store: DeadLetterStore;
    beforeAll(async () => {
      sut = await factory();
      store = sut.store;
    });
    afterAll(async () => sut?.dispose());

    it('lists a letter that was put', async () => {
      const channel = newChannel();
      const record = letter('order-1:3');
      await store.put(channel, 'order-1:3', record);
      expect(await store.list(channel)).toEqual([record]);
    });

    it('lists no letters for an unknown channel', async () => {
      expect(await store.list(newChannel('unknown'))).toEqual([]);
    });

    it('lists letters ordered by id, not by the order they were put in', async () => {
      const channel = newChannel();
      const ids = ['order-2:1', 'order-1:2', 'order-1:10', 'order-1:1', 'order-10:1', 'order-1:9'];
      for (const id of ids) await store.put(channel, id, letter(id));
      const listed = (await store.list(channel)).map(idOf);
      expect(listed).toEqual([...ids].sort(byId));
      // String order of UTF-16 code units, not numeric: `0` (U+0030) sorts before `:` (U+003A).
      expect(listed).toEqual([
        'order-10:1',
        'order-1:1',
        'order-1:10',
        'order-1:2',
        'order-1:9',
        'order-2:1',
      ]);
    });

    it('replaces a letter put again under the same id', async () => {
      const channel = newChannel();
      await store.put(channel, 'order-1:3', letter('order-1:3', { attempt: 1 }));
      const second = { ...letter('order-1:3', { attempt: 2 }), reason: 'second try' };
      await store.put(channel, 'order-1:3', second);
      expect(await store.list(channel)).toEqual([second]);
    });

    it('deletes a letter; deleting a missing one, or one of an unknown channel, is fine', async () => {
      const channel = newChannel();
      await store.put(channel, 'order-1:1', letter('order-1:1'));
      await store.put(channel, 'order-1:2', letter('order-1:2'));
      await store.delete(channel, 'order-1:1');
      expect((await store.list(channel)).map(idOf)).toEqual(['order-1:2']);
      await store.delete(channel, 'order-1:1');
      await store.delete(channel, 'never-put:1');
      await store.delete(newChannel('unknown'), 'order-1:2');
      expect((await store.list(channel)).map(idOf)).toEqual(['order-1:2']);
      await store.delete(channel, 'order-1:2');
      expect(await store.list(channel)).toEqual([]);
    });

    it('round-trips ids with `:`, `/`, dots, unicode and `__proto__`, each deleted on its own', async () => {
      const channel = newChannel();
      const ids = [
        'order-1:3',
        'tenant/order/7:1',
        '../up:1',
        'bestellung-ü:1',
        '注文-2:1',
        '🙂:1',
        '__proto__',
        'constructor',
      ];
      for (const id of ids) await store.put(channel, id, letter(id));
      const listed = await store.list(channel);
      expect(listed.map(idOf).sort(byId)).toEqual([...ids].sort(byId));
      for (const record of listed) expect(record).toEqual(letter(idOf(record)));
      expect(Object.getPrototypeOf(listed[0])).toBe(Object.prototype);
      const remaining = new Set(ids);
      for (const id of ids) {
        await store.delete(channel, id);
        remaining.delete(id);
        expect((await store.list(channel)).map(idOf).sort(byId)).toEqual([...remaining].sort(byId));
      }
    });

    it('keeps ids apart that differ only in `:`, `/`, `_` or a non-ASCII letter, listed by id', async () => {
      const channel = newChannel();
      const ids = ['order-1:3', 'order-1/3', 'order-1_3', 'order-1ü3', 'order-1.3'];
      for (const id of ids) await store.put(channel, id, letter(id));
      expect((await store.list(channel)).map(idOf)).toEqual([...ids].sort(byId));
    });

    it('keeps a channel named `..` inside its root', async () => {
      await store.put('..', 'escape-1', letter('escape-1'));
      expect((await store.list('..')).map(idOf)).toEqual(['escape-1']);
      await store.delete('..', 'escape-1');
      expect(await store.list('..')).toEqual([]);
    });

    it('round-trips a 1.5 MB letter whole', async () => {
      const channel = newChannel();
      // Multi-byte characters too, so a wrong length or a split character would show.
      const payload = 'x'.repeat(1_500_000) + 'ü€🙂';
      const record = letter('order-big:1', { payload });
      record.sizeBytes = Buffer.byteLength(JSON.stringify(record.event));
      await store.put(channel, 'order-big:1', record);
      const [listed, ...rest] = await store.list(channel);
      expect(rest).toEqual([]);
      expect(record.sizeBytes).toBeGreaterThan(1_500_000);
      expect((listed.event as { data: { payload: string } }).data.payload === payload).toBe(true);
      expect(listed).toEqual(record);
    });

    it('keeps channels apart, including one whose name extends or nests under another', async () => {
      const a = newChannel();
      const channels = [a, `${a}-b`, `${a}/sub`, `eventgrid-${a}`];
      for (const [i, channel] of channels.entries()) {
        await store.put(channel, 'order-1:1', letter('order-1:1', { channel: i }));
      }
      for (const [i, channel] of channels.entries()) {
        expect(await store.list(channel)).toEqual([letter('order-1:1', { channel: i })]);
      }
      await store.delete(a, 'order-1:1');
      expect(await store.list(a)).toEqual([]);
      for (const [i, channel] of channels.slice(1).entries()) {
        expect(await store.list(channel)).toEqual([letter('order-1:1', { channel: i + 1 })]);
      }
    });
  });
}
