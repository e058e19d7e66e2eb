import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CustomerNotification,
  EventRef,
  GuardOutcome,
  NotificationStore,
  StockDemandStore,
} from '../../src/ports/consumers';
import { newStreamId } from './contract';

export type ConsumerStores = StockDemandStore & NotificationStore;

/**
 * One isolated store (a fresh database) for one test. `open` may be called many times: each call is another
 * adapter instance on the same state, as another app instance on Azure would be.
 */
export interface ConsumerBackend {
  open(): ConsumerStores;
  dispose(): Promise<void>;
}

export interface ConsumerContractOptions {
  /**
   * Says why the race tests cannot prove atomicity against this backend (a test server without atomic
   * batches): they then run as smoke tests, and their names say so.
   */
  limits?: { atomicity?: string };
  /**
   * What the version guard of stock demand is kept per: `order` (per consumer and order, as the port words
   * it: the embedded store) or `order and product` (per consumer, order and product: Cosmos DB, where the
   * guard must share the product's partition with the demand counter to be written in one transactional
   * batch; see src/adapters/cosmos/cosmosConsumers.ts). Notifications are guarded per consumer and order in both.
   */
  demandVersionScope: 'order' | 'order and product';
}

/** The reference of version `version` of `orderId` for `consumer`, with the CloudEvent id the relay gives it. */
export const ref = (consumer: string, orderId: string, version: number): EventRef => ({
  consumer,
  eventId: `${orderId}:${version}`,
  orderId,
  orderVersion: version,
});

const notification = (
  orderId: string,
  version: number,
  kind: CustomerNotification['kind'] = 'order-accepted',
): CustomerNotification => ({
  eventId: `${orderId}:${version}`,
  orderId,
  customerId: 'c-1',
  kind,
  message: `${kind} at version ${version}`,
  occurredAt: '2026-01-01T00:00:00.000Z',
  recordedAt: '2026-01-01T00:00:01.000Z',
});

/**
 * The consumer state contract (port src/ports/consumers.ts): every adapter runs these same cases, each on a
 * fresh backend from `factory`.
 */
export function consumersContract(
  name: string,
  factory: () => Promise<ConsumerBackend>,
  options: ConsumerContractOptions,
) {
  const race = (title: string) =>
    options.limits?.atomicity ? `${title} (smoke test: ${options.limits.atomicity})` : title;

  describe(`consumer state contract: ${name}`, () => {
    let backend: ConsumerBackend;
    let stores: ConsumerStores;
    beforeEach(async () => {
      backend = await factory();
      stores = backend.open();
    });
    afterEach(async () => backend?.dispose());

    it('adds demand once per event: the same event id again is a duplicate and adds nothing', async () => {
      const sku = newStreamId('sku');
      const order = newStreamId('order');
      expect(await stores.addDemand(ref('stockCheck', order, 2), sku, 3)).toBe('applied');
      expect(await stores.addDemand(ref('stockCheck', order, 2), sku, 3)).toBe('duplicate');
      expect(await backend.open().addDemand(ref('stockCheck', order, 2), sku, 3)).toBe('duplicate');
      expect(await stores.get(sku)).toEqual({ productId: sku, demanded: 3, overDemand: false });
    });

    it('skips an older version of an order as stale and adds nothing; its redelivery is then a duplicate', async () => {
      const sku = newStreamId('sku');
      const order = newStreamId('order');
      expect(await stores.addDemand(ref('stockCheck', order, 2), sku, 1)).toBe('applied');
      expect(await stores.addDemand(ref('stockCheck', order, 5), sku, 2)).toBe('applied');
      expect(await stores.addDemand(ref('stockCheck', order, 4), sku, 4)).toBe('stale');
      expect(await stores.addDemand(ref('stockCheck', order, 4), sku, 4)).toBe('duplicate');
      expect(await stores.addDemand(ref('stockCheck', order, 7), sku, 8)).toBe('applied');
      expect((await stores.get(sku))?.demanded).toBe(11);
    });

    it('keeps versions per consumer and per order: a newer version seen by another consumer or for another order makes nothing stale', async () => {
      const sku = newStreamId('sku');
      const order = newStreamId('order');
      const other = newStreamId('order');
      expect(await stores.addDemand(ref('consumer-a', order, 9), sku, 1)).toBe('applied');
      expect(await stores.addDemand(ref('consumer-b', order, 3), sku, 1)).toBe('applied');
      expect(await stores.addDemand(ref('consumer-a', other, 1), sku, 1)).toBe('applied');
      // The same event for two consumers: each processes it once.
      expect(await stores.addDemand(ref('consumer-b', order, 9), sku, 1)).toBe('applied');
      expect((await stores.get(sku))?.demanded).toBe(4);
    });

    it(
      options.demandVersionScope === 'order'
        ? 'guards stock demand per order: a newer version of the order seen for one product makes an older one stale for another product'
        : 'guards stock demand per order and product: an older version of the order is still applied for a product that saw no newer one',
      async () => {
        const a = newStreamId('sku');
        const b = newStreamId('sku');
        const order = newStreamId('order');
        expect(await stores.addDemand(ref('stockCheck', order, 5), a, 1)).toBe('applied');
        const expected: GuardOutcome = options.demandVersionScope === 'order' ? 'stale' : 'applied';
        expect(await stores.addDemand(ref('stockCheck', order, 3), b, 2)).toBe(expected);
        expect(await stores.addDemand(ref('stockCheck', order, 4), a, 2)).toBe('stale');
        expect((await stores.get(b))?.demanded ?? 0).toBe(expected === 'applied' ? 2 : 0);
        expect((await stores.get(a))?.demanded).toBe(1);
      },
    );

    it('sums demand per product over orders and reports overDemand once demand exceeds the available stock', async () => {
      const sku = newStreamId('sku');
      const other = newStreamId('sku');
      await stores.setAvailable(new Map([[sku, 5]]));
      await stores.addDemand(ref('stockCheck', newStreamId('order'), 2), sku, 3);
      expect(await stores.get(sku)).toEqual({ productId: sku, demanded: 3, available: 5, overDemand: false });
      await stores.addDemand(ref('stockCheck', newStreamId('order'), 2), sku, 2);
      expect(await stores.get(sku)).toMatchObject({ demanded: 5, overDemand: false });
      await stores.addDemand(ref('stockCheck', newStreamId('order'), 2), sku, 1);
      expect(await stores.get(sku)).toEqual({ productId: sku, demanded: 6, available: 5, overDemand: true });
      await stores.addDemand(ref('stockCheck', newStreamId('order'), 2), other, 100);
      expect(await stores.get(other)).toEqual({ productId: other, demanded: 100, overDemand: false });
    });

    it('setAvailable sets the available stock without touching demand, for products with or without demand; an unknown product reads undefined', async () => {
      const demanded = newStreamId('sku');
      const fresh = newStreamId('sku');
      expect(await stores.get(fresh)).toBeUndefined();
      await stores.addDemand(ref('stockCheck', newStreamId('order'), 2), demanded, 4);
      await stores.setAvailable(
        new Map([
          [demanded, 3],
          [fresh, 7],
        ]),
      );
      expect(await stores.get(demanded)).toEqual({
        productId: demanded,
        demanded: 4,
        available: 3,
        overDemand: true,
      });
      expect(await stores.get(fresh)).toEqual({
        productId: fresh,
        demanded: 0,
        available: 7,
        overDemand: false,
      });
      await backend.open().setAvailable(new Map([[demanded, 10]]));
      expect(await stores.get(demanded)).toEqual({
        productId: demanded,
        demanded: 4,
        available: 10,
        overDemand: false,
      });
      await stores.setAvailable(new Map());
      expect((await stores.get(fresh))?.available).toBe(7);
      expect(await stores.get(newStreamId('unknown'))).toBeUndefined();
    });

    it('records one notification per event and lists them per order, in version order', async () => {
      const order = newStreamId('order');
      const other = newStreamId('order');
      const accepted = notification(order, 4, 'order-accepted');
      const cancelled = notification(order, 6, 'order-cancelled');
      expect(await stores.record(ref('customerNotifications', order, 4), accepted)).toBe('applied');
      expect(await stores.record(ref('customerNotifications', order, 6), cancelled)).toBe('applied');
      const rejected = notification(other, 3, 'order-rejected');
      expect(await stores.record(ref('customerNotifications', other, 3), rejected)).toBe('applied');
      expect(await stores.listForOrder(order)).toEqual([accepted, cancelled]);
      expect(await backend.open().listForOrder(other)).toEqual([rejected]);
      expect(await stores.listForOrder(newStreamId('none'))).toEqual([]);
    });

    it('skips a duplicate or stale notification, and lists nothing twice', async () => {
      const order = newStreamId('order');
      const cancelled = notification(order, 6, 'order-cancelled');
      expect(await stores.record(ref('customerNotifications', order, 6), cancelled)).toBe('applied');
      expect(await stores.record(ref('customerNotifications', order, 6), cancelled)).toBe('duplicate');
      const late = notification(order, 4, 'order-accepted');
      expect(await stores.record(ref('customerNotifications', order, 4), late)).toBe('stale');
      expect(await backend.open().record(ref('customerNotifications', order, 4), late)).toBe('duplicate');
      expect(await stores.listForOrder(order)).toEqual([cancelled]);
    });

    it('keeps hostile ids (__proto__, constructor, toString) apart as product ids, order ids and consumer names', async () => {
      const hostile = ['__proto__', 'constructor', 'toString'];
      await stores.setAvailable(
        new Map([
          ['__proto__', 1],
          ['constructor', 2],
          ['toString', 3],
        ]),
      );
      expect(await stores.get('hasOwnProperty')).toBeUndefined();
      expect(await stores.get('valueOf')).toBeUndefined();
      // One event adds one product, so each product comes with the next version of each order.
      for (const [k, productId] of hostile.entries()) {
        for (const orderId of hostile) {
          expect(await stores.addDemand(ref('__proto__', orderId, k + 2), productId, 1)).toBe('applied');
          expect(await stores.addDemand(ref('__proto__', orderId, k + 2), productId, 1)).toBe('duplicate');
        }
      }
      expect(await stores.get('__proto__')).toEqual({
        productId: '__proto__',
        demanded: 3,
        available: 1,
        overDemand: true,
      });
      expect(await stores.get('constructor')).toMatchObject({ demanded: 3, available: 2, overDemand: true });
      expect(await stores.get('toString')).toMatchObject({ demanded: 3, available: 3, overDemand: false });
      for (const orderId of hostile) {
        const n = notification(orderId, 3);
        expect(await stores.record(ref('constructor', orderId, 3), n)).toBe('applied');
        expect(await stores.record(ref('constructor', orderId, 2), notification(orderId, 2))).toBe('stale');
        expect(await stores.listForOrder(orderId)).toEqual([n]);
      }
      expect(await stores.listForOrder('hasOwnProperty')).toEqual([]);
    });

    it(
      race(
        'applies one of 10 concurrent deliveries of one event on separate instances; the others are duplicates and demand counts once',
      ),
      async () => {
        const sku = newStreamId('sku');
        const order = newStreamId('order');
        const outcomes = await Promise.all(
          Array.from({ length: 10 }, () => backend.open().addDemand(ref('stockCheck', order, 3), sku, 2)),
        );
        expect(outcomes.filter((o) => o === 'applied')).toHaveLength(1);
        expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(9);
        expect((await stores.get(sku))?.demanded).toBe(2);
      },
    );

    it(
      race('counts every unit when 10 orders add demand for one product at once on separate instances'),
      async () => {
        const sku = newStreamId('sku');
        const outcomes = await Promise.all(
          Array.from({ length: 10 }, (_, k) =>
            backend.open().addDemand(ref('stockCheck', newStreamId('order'), 2), sku, k + 1),
          ),
        );
        expect(outcomes.every((o) => o === 'applied')).toBe(true);
        expect((await stores.get(sku))?.demanded).toBe(55);
      },
    );

    it(
      race(
        'applies the highest of 10 versions of one order delivered at once, and counts exactly the units of the applied ones',
      ),
      async () => {
        const sku = newStreamId('sku');
        const order = newStreamId('order');
        const versions = [4, 9, 1, 7, 10, 2, 8, 3, 6, 5];
        const outcomes = await Promise.all(
          versions.map((v) => backend.open().addDemand(ref('stockCheck', order, v), sku, v)),
        );
        expect(outcomes[versions.indexOf(10)]).toBe('applied');
        expect(outcomes.every((o) => o === 'applied' || o === 'stale')).toBe(true);
        const appliedUnits = versions.filter((_, k) => outcomes[k] === 'applied').reduce((s, v) => s + v, 0);
        expect((await stores.get(sku))?.demanded).toBe(appliedUnits);
        // Whatever the interleaving, every version is now seen: a redelivery of any of them is a duplicate.
        for (const v of versions) {
          expect(await stores.addDemand(ref('stockCheck', order, v), sku, v)).toBe('duplicate');
        }
      },
    );

    it(
      race('records one notification when one event is delivered 10 times at once on separate instances'),
      async () => {
        const order = newStreamId('order');
        const n = notification(order, 5);
        const outcomes = await Promise.all(
          Array.from({ length: 10 }, () => backend.open().record(ref('customerNotifications', order, 5), n)),
        );
        expect(outcomes.filter((o) => o === 'applied')).toHaveLength(1);
        expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(9);
        expect(await stores.listForOrder(order)).toEqual([n]);
      },
    );
  });
}
