import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decide, fold } from '../../src/domain/decider';
import { currentSchemaVersion, eventDataSchema, OrderEvent } from '../../src/domain/events';
import { Id } from '../../src/domain/ids';
import { OrderService } from '../../src/app/orderService';
import { openDatabase } from '../../src/adapters/sqlite/database';
import { SqliteEventStore } from '../../src/adapters/sqlite/sqliteEventStore';
import { SqliteStockReservations } from '../../src/adapters/sqlite/sqliteStockReservations';
import {
  AcceptanceDeps,
  releaseCancelledOrder,
  releaseStock,
  reserveStock,
} from '../../src/acceptance/activities';
import { reservationIdOf } from '../../src/acceptance/contract';
import { RecordedEvent } from '../../src/ports/eventStore';

/**
 * Issue 9, point 4: product ids that are names of Object.prototype's properties (`constructor`,
 * `__proto__`, `toString`, ...) made the decider see a reservation that was never made. Reserving then
 * appended no StockReserved although the stock store held the units, and releasing appended a
 * StockReleased without the `quantity` and `reservationId` its schema requires.
 */
const at = '2026-01-02T10:00:00.000Z';
const prototypeNames = Object.getOwnPropertyNames(Object.prototype);
/** The names an id may be: the pattern of src/domain/ids.ts lets every one of them through. */
const validNames = prototypeNames.filter((n) => Id.safeParse(n).success);

const expectValid = (e: { type: string; schemaVersion?: number; data: unknown }) => {
  const schema = eventDataSchema(
    e.type,
    e.schemaVersion ?? currentSchemaVersion[e.type as OrderEvent['type']],
  );
  expect(schema, e.type).toBeDefined();
  const r = schema!.safeParse(e.data);
  expect(r.success, `${e.type} ${JSON.stringify(e.data)}: ${r.error?.message}`).toBe(true);
};

describe('product ids named like Object.prototype properties', () => {
  it('are all valid ids (the pattern lets them through)', () => {
    expect(validNames).toEqual(expect.arrayContaining(['constructor', '__proto__', 'toString', 'valueOf']));
    expect(validNames).toEqual(prototypeNames);
  });

  describe.each(validNames)('product %s through the decider', (productId) => {
    const submitted: OrderEvent[] = [
      { type: 'OrderCreated', data: { customerId: 'c-1' }, occurredAt: at },
      {
        type: 'ProductAddedToOrder',
        data: { productId, quantity: 2, unitPrice: '1.00', currency: 'BRL' },
        occurredAt: at,
      },
      { type: 'OrderSubmitted', data: { total: '2.00', currency: 'BRL', lineCount: 1 }, occurredAt: at },
    ];

    it('reserves: StockReserved', () => {
      const events = decide(
        { type: 'ReserveStock', productId, quantity: 2, reservationId: `o-1/${productId}`, occurredAt: at },
        fold(submitted),
      );
      expect(events).toEqual([
        {
          type: 'StockReserved',
          data: { productId, quantity: 2, reservationId: `o-1/${productId}` },
          occurredAt: at,
        },
      ]);
    });

    it('releases nothing that was never reserved', () => {
      expect(decide({ type: 'ReleaseStock', productId, occurredAt: at }, fold(submitted))).toEqual([]);
    });

    it('releases what was reserved, with its quantity and reservation id', () => {
      const reserved: OrderEvent = {
        type: 'StockReserved',
        data: { productId, quantity: 2, reservationId: `o-1/${productId}` },
        occurredAt: at,
      };
      const events = decide(
        { type: 'ReleaseStock', productId, occurredAt: at },
        fold([...submitted, reserved]),
      );
      expect(events).toEqual([
        {
          type: 'StockReleased',
          data: { productId, quantity: 2, reservationId: `o-1/${productId}` },
          occurredAt: at,
        },
      ]);
      events.forEach(expectValid);
      const after = fold([...submitted, reserved, ...events]);
      expect(decide({ type: 'ReleaseStock', productId, occurredAt: at }, after)).toEqual([]);
    });
  });
});

describe('add, submit, reserve, cancel and release a prototype-named product through the acceptance activities', () => {
  let db: ReturnType<typeof openDatabase>;
  let deps: AcceptanceDeps;

  beforeEach(() => {
    db = openDatabase(':memory:');
    deps = {
      orders: new OrderService(new SqliteEventStore(db), () => new Date(at)),
      stock: new SqliteStockReservations(db, { levels: new Map() }),
      policy: {
        approvalThreshold: '1000000',
        approvalTimeoutSeconds: 60,
        retry: { firstRetryIntervalMs: 1, maxAttempts: 1, backoffCoefficient: 1, maxRetryIntervalMs: 1 },
      },
    };
  });
  afterEach(() => db.close());

  it.each(validNames)(
    '%s: StockReserved for the reservation, StockReleased with quantity and reservationId',
    async (productId) => {
      const orderId = 'o-1';
      const base = { orderId, instanceId: `acceptance-${orderId}` };
      await deps.orders.handle(orderId, { type: 'CreateOrder', customerId: 'c-1' });
      await deps.orders.handle(orderId, {
        type: 'AddProduct',
        line: { productId, quantity: 3, unitPrice: '1.00', currency: 'BRL' },
      });
      await deps.orders.handle(orderId, { type: 'SubmitOrder' });

      const reserved = await reserveStock(deps, { ...base, productId, quantity: 3 });
      expect(reserved).toEqual({
        productId,
        quantity: 3,
        reservationId: reservationIdOf(orderId, productId),
      });
      expect((await deps.stock.get(reservationIdOf(orderId, productId)))?.status).toBe('reserved');
      const types = async () => (await deps.orders.load(orderId)).events.map((e) => e.type);
      expect(await types()).toContain('StockReserved');

      await deps.orders.handle(orderId, { type: 'CancelOrder', reason: 'changed my mind' });
      const { version } = await deps.orders.load(orderId);
      const result = await releaseCancelledOrder(deps, { orderId, version });
      expect(result).toEqual({ status: 'cancelled', released: [productId] });
      expect((await deps.stock.get(reservationIdOf(orderId, productId)))?.status).toBe('released');
      // A second delivery, and the compensation activity, release and append nothing more.
      expect(await releaseCancelledOrder(deps, { orderId, version })).toEqual({
        status: 'cancelled',
        released: [],
      });
      await releaseStock(deps, { ...base, productId });

      const { events, state } = await deps.orders.load(orderId);
      expect(events.map((e) => e.type)).toEqual([
        'OrderCreated',
        'ProductAddedToOrder',
        'OrderSubmitted',
        'StockReserved',
        'OrderCancelled',
        'StockReleased',
      ]);
      events.forEach((e: RecordedEvent) => expectValid(e));
      expect(events[5].data).toEqual({
        productId,
        quantity: 3,
        reservationId: reservationIdOf(orderId, productId),
      });
      expect(Object.keys(state.reservations)).toEqual([]);
    },
  );

  it('a reserve activity that runs again after the order was accepted keeps the recorded reservation', async () => {
    const orderId = '__proto__';
    const productId = 'constructor';
    const base = { orderId, instanceId: `acceptance-${orderId}` };
    await deps.orders.handle(orderId, { type: 'CreateOrder', customerId: 'toString' });
    await deps.orders.handle(orderId, {
      type: 'AddProduct',
      line: { productId, quantity: 1, unitPrice: '1.00', currency: 'BRL' },
    });
    await deps.orders.handle(orderId, { type: 'SubmitOrder' });
    await reserveStock(deps, { ...base, productId, quantity: 1 });
    await deps.orders.handle(orderId, { type: 'AcceptOrder' });

    // At least once: the activity runs again; the order is accepted now, so it is refused...
    await expect(reserveStock(deps, { ...base, productId, quantity: 1 })).rejects.toThrow(
      /cannot reserve stock/,
    );
    // ...without returning units the stream still records as reserved.
    expect((await deps.stock.get(reservationIdOf(orderId, productId)))?.status).toBe('reserved');
  });
});
