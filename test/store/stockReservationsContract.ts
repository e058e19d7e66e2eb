import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  InsufficientStockError,
  Reservation,
  StockReservations,
  StockUnavailableError,
} from '../../src/ports/stockReservations';
import { newStreamId } from './contract';

/** What an adapter instance is opened with: the settings `STOCK_LEVELS` and `STOCK_RESERVATION_FAILURES`. */
export interface StockSettings {
  levels: ReadonlyMap<string, number>;
  failures?: ReadonlyMap<string, number>;
}

/**
 * One isolated store (a fresh database) for one test. `open` may be called many times: each call is another
 * adapter instance on the same state, as another app instance on Azure would be.
 */
export interface StockBackend {
  open(settings: StockSettings): StockReservations;
  dispose(): Promise<void>;
}

export interface StockContractOptions {
  /**
   * Says why the race tests cannot prove atomicity against this backend (a test server without atomic
   * batches): they then run as smoke tests, and their names say so.
   */
  limits?: { atomicity?: string };
}

const request = (orderId: string, productId: string, quantity: number) => ({
  reservationId: `${orderId}/${productId}`,
  orderId,
  productId,
  quantity,
});

const levels = (entries: [string, number][]) => new Map(entries);

/**
 * The stock reservation contract (port src/ports/stockReservations.ts): every adapter runs these same cases,
 * each on a fresh backend from `factory`.
 */
export function stockReservationsContract(
  name: string,
  factory: () => Promise<StockBackend>,
  options: StockContractOptions = {},
) {
  const race = (title: string) =>
    options.limits?.atomicity ? `${title} (smoke test: ${options.limits.atomicity})` : title;

  describe(`stock reservations contract: ${name}`, () => {
    let backend: StockBackend;
    beforeEach(async () => {
      backend = await factory();
    });
    afterEach(async () => backend?.dispose());

    it('reserves once per reservation id: a repeat returns the first reservation and takes no more stock', async () => {
      const sku = newStreamId('sku');
      const stock = backend.open({ levels: levels([[sku, 5]]) });
      const first = await stock.reserve(request('o-1', sku, 2));
      expect(first).toMatchObject({
        reservationId: `o-1/${sku}`,
        orderId: 'o-1',
        productId: sku,
        quantity: 2,
        status: 'reserved',
      });
      expect(Date.parse(first.reservedAt)).not.toBeNaN();
      expect(first.releasedAt).toBeUndefined();
      expect(await stock.reserve(request('o-1', sku, 2))).toEqual(first);
      expect(await stock.get(`o-1/${sku}`)).toEqual(first);
      expect(await stock.available(sku)).toBe(3);
    });

    it('refuses a quantity above the available stock with InsufficientStockError, and reserves nothing', async () => {
      const sku = newStreamId('sku');
      const stock = backend.open({ levels: levels([[sku, 3]]) });
      await stock.reserve(request('o-1', sku, 2));
      const err = await stock.reserve(request('o-2', sku, 2)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InsufficientStockError);
      expect(err).toMatchObject({ productId: sku, requested: 2, available: 1 });
      expect((err as Error).message).toContain('2 requested, 1 available');
      expect(await stock.get(`o-2/${sku}`)).toBeUndefined();
      expect(await stock.available(sku)).toBe(1);
      await expect(stock.reserve(request('o-3', sku, 1))).resolves.toMatchObject({ status: 'reserved' });
      expect(await stock.available(sku)).toBe(0);
    });

    it('treats a product without a level as unlimited: available() is undefined and any quantity is reserved', async () => {
      const sku = newStreamId('sku');
      const unlimited = newStreamId('free');
      const stock = backend.open({ levels: levels([[sku, 1]]) });
      expect(await stock.available(unlimited)).toBeUndefined();
      await expect(stock.reserve(request('o-1', unlimited, 1_000_000))).resolves.toMatchObject({
        status: 'reserved',
        quantity: 1_000_000,
      });
      expect(await stock.available(unlimited)).toBeUndefined();
      expect(await stock.available(sku)).toBe(1);
    });

    it('returns released units to stock; a second release returns the same released reservation; an unknown id releases nothing', async () => {
      const sku = newStreamId('sku');
      const stock = backend.open({ levels: levels([[sku, 1]]) });
      await stock.reserve(request('o-1', sku, 1));
      expect(await stock.available(sku)).toBe(0);
      const released = await stock.release(`o-1/${sku}`);
      expect(released).toMatchObject({ status: 'released', quantity: 1, releasedAt: expect.any(String) });
      expect(await stock.available(sku)).toBe(1);
      expect(await stock.release(`o-1/${sku}`)).toEqual(released);
      expect(await stock.get(`o-1/${sku}`)).toEqual(released);
      expect(await stock.available(sku)).toBe(1);
      expect(await stock.release(newStreamId('nothing'))).toBeUndefined();
      expect(await stock.get(newStreamId('nothing'))).toBeUndefined();
    });

    it('after a release, the same reservation id returns the released reservation and takes nothing; a new id takes the freed units', async () => {
      const sku = newStreamId('sku');
      const stock = backend.open({ levels: levels([[sku, 2]]) });
      await stock.reserve(request('o-1', sku, 2));
      const released = await stock.release(`o-1/${sku}`);
      expect(await stock.reserve(request('o-1', sku, 2))).toEqual(released);
      expect(await stock.available(sku)).toBe(2);
      await expect(stock.reserve(request('o-2', sku, 2))).resolves.toMatchObject({ status: 'reserved' });
      expect(await stock.available(sku)).toBe(0);
      await expect(stock.reserve(request('o-3', sku, 1))).rejects.toBeInstanceOf(InsufficientStockError);
    });

    it('shares state between instances: what one reserves another reads, counts and releases', async () => {
      const sku = newStreamId('sku');
      const settings = { levels: levels([[sku, 4]]) };
      const a = backend.open(settings);
      const b = backend.open(settings);
      const reserved = await a.reserve(request('o-1', sku, 3));
      expect(await b.get(`o-1/${sku}`)).toEqual(reserved);
      expect(await b.available(sku)).toBe(1);
      expect(await b.reserve(request('o-1', sku, 3))).toEqual(reserved);
      await expect(b.reserve(request('o-2', sku, 2))).rejects.toBeInstanceOf(InsufficientStockError);
      expect(await b.release(`o-1/${sku}`)).toMatchObject({ status: 'released' });
      expect(await a.get(`o-1/${sku}`)).toMatchObject({ status: 'released' });
      expect(await a.available(sku)).toBe(4);
    });

    it('fails the first N attempts per reservation id of a product named in the simulated failures, counted in the store (across instances)', async () => {
      const flaky = newStreamId('flaky');
      const settings = { levels: levels([]), failures: levels([[flaky, 2]]) };
      const a = backend.open(settings);
      const b = backend.open(settings);
      const first = await a.reserve(request('o-1', flaky, 1)).catch((e: unknown) => e);
      expect(first).toBeInstanceOf(StockUnavailableError);
      expect((first as Error).message).toContain('simulated failure 1 of 2');
      // Another instance continues the count: attempts live in the store, not in memory.
      await expect(b.reserve(request('o-1', flaky, 1))).rejects.toThrow('simulated failure 2 of 2');
      expect(await a.get(`o-1/${flaky}`)).toBeUndefined();
      const reserved = await a.reserve(request('o-1', flaky, 1));
      expect(reserved).toMatchObject({ status: 'reserved' });
      expect(await b.reserve(request('o-1', flaky, 1))).toEqual(reserved);
      // Counted per reservation id: another order starts again at 1.
      await expect(b.reserve(request('o-2', flaky, 1))).rejects.toThrow('simulated failure 1 of 2');
      // A product not named fails nothing.
      await expect(a.reserve(request('o-1', newStreamId('solid'), 1))).resolves.toMatchObject({
        status: 'reserved',
      });
    });

    it('accepts reservation ids holding characters a Cosmos DB id may not (/ \\ ? #) and long ones', async () => {
      const sku = newStreamId('sku');
      const stock = backend.open({ levels: levels([[sku, 10]]) });
      for (const reservationId of ['a/b/c', 'back\\slash', 'what?', 'hash#tag', 'x'.repeat(1500)]) {
        const r = await stock.reserve({ reservationId, orderId: 'o-odd', productId: sku, quantity: 1 });
        expect(r.reservationId).toBe(reservationId);
        expect(await stock.get(reservationId)).toEqual(r);
        expect(await stock.release(reservationId)).toMatchObject({ reservationId, status: 'released' });
      }
      expect(await stock.available(sku)).toBe(10);
    });

    it('keeps hostile ids (__proto__, constructor, toString) apart as product and order ids, in levels and failures', async () => {
      const hostile = ['__proto__', 'constructor', 'toString'];
      const stock = backend.open({
        levels: levels([
          ['__proto__', 1],
          ['constructor', 2],
          ['toString', 3],
        ]),
        failures: levels([['constructor', 1]]),
      });
      expect(await stock.available('hasOwnProperty')).toBeUndefined();
      expect(await stock.available('valueOf')).toBeUndefined();
      for (const productId of hostile) {
        for (const orderId of hostile) {
          const reservationId = `${orderId}/${productId}`;
          const attempt = () => stock.reserve({ reservationId, orderId, productId, quantity: 1 });
          if (productId === 'constructor') {
            await expect(attempt()).rejects.toThrow('simulated failure 1 of 1');
          }
          const outcome = await attempt().catch((e: unknown) => e);
          if (productId === '__proto__' && orderId !== '__proto__') {
            expect(outcome).toBeInstanceOf(InsufficientStockError);
          } else if (productId === 'constructor' && orderId === 'toString') {
            expect(outcome).toBeInstanceOf(InsufficientStockError);
          } else {
            expect(outcome).toMatchObject({ reservationId, orderId, productId, status: 'reserved' });
          }
        }
      }
      expect(await stock.available('__proto__')).toBe(0);
      expect(await stock.available('constructor')).toBe(0);
      expect(await stock.available('toString')).toBe(0);
      expect(await stock.release('__proto__/__proto__')).toMatchObject({ status: 'released' });
      expect(await stock.available('__proto__')).toBe(1);
      expect(await stock.get('__proto__')).toBeUndefined();
      expect(await stock.get('constructor')).toBeUndefined();
      expect(await stock.release('toString')).toBeUndefined();
    });

    it(
      race(
        'gives the last unit to exactly one of 10 concurrent reserves on separate instances; the others get InsufficientStockError',
      ),
      async () => {
        const sku = newStreamId('sku');
        const settings = { levels: levels([[sku, 3]]) };
        await backend.open(settings).reserve(request('o-0', sku, 2));
        const results = await Promise.allSettled(
          Array.from({ length: 10 }, (_, k) => backend.open(settings).reserve(request(`o-${k + 1}`, sku, 1))),
        );
        const won = results.filter((r): r is PromiseFulfilledResult<Reservation> => r.status === 'fulfilled');
        expect(won).toHaveLength(1);
        for (const r of results.filter((x) => x.status === 'rejected')) {
          expect((r as PromiseRejectedResult).reason).toBeInstanceOf(InsufficientStockError);
        }
        const check = backend.open(settings);
        expect(await check.available(sku)).toBe(0);
        const held = await Promise.all(Array.from({ length: 10 }, (_, k) => check.get(`o-${k + 1}/${sku}`)));
        expect(held.filter((r) => r !== undefined)).toEqual([won[0].value]);
      },
    );

    it(race('loses no unit when 10 instances reserve one product at once within its level'), async () => {
      const sku = newStreamId('sku');
      const settings = { levels: levels([[sku, 10]]) };
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, k) => backend.open(settings).reserve(request(`o-${k}`, sku, 1))),
      );
      expect(results.every((r) => r.status === 'reserved')).toBe(true);
      const check = backend.open(settings);
      expect(await check.available(sku)).toBe(0);
      await expect(check.reserve(request('o-late', sku, 1))).rejects.toBeInstanceOf(InsufficientStockError);
    });

    it(
      race('reserves one reservation id once when 10 instances reserve it at once, and takes its units once'),
      async () => {
        const sku = newStreamId('sku');
        const settings = { levels: levels([[sku, 5]]) };
        const results = await Promise.all(
          Array.from({ length: 10 }, () => backend.open(settings).reserve(request('o-1', sku, 2))),
        );
        expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1);
        expect(await backend.open(settings).available(sku)).toBe(3);
      },
    );

    it(race('returns the units once when 5 instances release one reservation at once'), async () => {
      const sku = newStreamId('sku');
      const settings = { levels: levels([[sku, 3]]) };
      await backend.open(settings).reserve(request('o-1', sku, 2));
      await backend.open(settings).reserve(request('o-2', sku, 1));
      const results = await Promise.all(
        Array.from({ length: 5 }, () => backend.open(settings).release(`o-1/${sku}`)),
      );
      expect(results.every((r) => r?.status === 'released')).toBe(true);
      expect(await backend.open(settings).available(sku)).toBe(2);
    });
  });
}
