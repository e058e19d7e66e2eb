import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide, DomainError, fold, OrderCommand } from '../../src/domain/decider';
import { eventDataSchema, OrderEvent } from '../../src/domain/events';
import { Id } from '../../src/domain/ids';
import { toOrderView, toSummary } from '../../src/domain/orderView';
import { heldReservation, initialState, OrderState, reservedProducts } from '../../src/domain/state';
import { toCloudEvents } from '../../src/app/cloudEvents';
import { checkStock, notifyCustomer, receive } from '../../src/app/consumers';
import { CommandInput, OrderService, toDomainEvent } from '../../src/app/orderService';
import { projectCommits } from '../../src/app/projection';
import { openDatabase } from '../../src/adapters/sqlite/database';
import { SqliteConsumerStores } from '../../src/adapters/sqlite/sqliteConsumers';
import { SqliteEventStore } from '../../src/adapters/sqlite/sqliteEventStore';
import { SqliteOrderReadModel } from '../../src/adapters/sqlite/sqliteReadModel';
import { SqliteStockReservations } from '../../src/adapters/sqlite/sqliteStockReservations';
import {
  acceptOrder,
  AcceptanceDeps,
  rejectOrder,
  releaseCancelledOrder,
  releaseStock,
  reserveStock,
  validateOrder,
} from '../../src/acceptance/activities';
import { ReservationFailure } from '../../src/acceptance/contract';
import { InsufficientStockError } from '../../src/ports/stockReservations';
import { RecordedEvent } from '../../src/ports/eventStore';

/**
 * Issue 9, point 4, as a property: whatever ids users choose (names of Object.prototype's properties,
 * `__proto__`, `prototype`, ids with `.` and `:`), random command sequences through the decider, the order
 * service on the embedded store, the read-model projection, the Event Grid consumers and the acceptance
 * activities append only events that validate against their schema, and every view of an order agrees with
 * the fold of its log.
 */

const hostile = [
  ...Object.getOwnPropertyNames(Object.prototype),
  '__proto__',
  'prototype',
  'constructor',
  'hasOwnProperty',
  'toJSON',
  'then',
  'length',
  'a.b',
  'x:y',
  '__proto__.x',
  'constructor:1',
  '.__proto__',
  'toString.',
].filter((id) => Id.safeParse(id).success);
const normal = ['p-1', 'p-2', 'sku.9', 'c-1', 'o-1'];
const ids = [...new Set([...hostile, ...normal])];

const idArb = fc.constantFrom(...ids);
/** Two orders per run (ids drawn from the same names), so commands meet the same order often. */
const orderIdsArb = fc.uniqueArray(fc.constantFrom(...ids), { minLength: 2, maxLength: 2 });
const orderIdArb = fc.constantFrom(0, 1);
const productIdArb = fc.constantFrom(...ids);

type Step<O = number> =
  | { kind: 'create'; orderId: O; customerId: string; referralCode?: string }
  | { kind: 'add'; orderId: O; productId: string; quantity: number; price: string; sellerId?: string }
  | { kind: 'remove'; orderId: O; productId: string }
  | { kind: 'submit'; orderId: O }
  | { kind: 'cancel'; orderId: O; reason: string }
  | { kind: 'reserve'; orderId: O; productId: string; quantity: number }
  | { kind: 'release'; orderId: O; productId: string }
  | { kind: 'releaseCancelled'; orderId: O }
  | { kind: 'accept'; orderId: O }
  | { kind: 'reject'; orderId: O; failing?: string };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 1,
    arbitrary: fc.record(
      { kind: fc.constant('create' as const), orderId: orderIdArb, customerId: idArb, referralCode: idArb },
      { requiredKeys: ['kind', 'orderId', 'customerId'] },
    ),
  },
  {
    weight: 5,
    arbitrary: fc.record(
      {
        kind: fc.constant('add' as const),
        orderId: orderIdArb,
        productId: productIdArb,
        quantity: fc.integer({ min: 1, max: 4 }),
        price: fc.constantFrom('0.00', '1.00', '2.50'),
        sellerId: idArb,
      },
      { requiredKeys: ['kind', 'orderId', 'productId', 'quantity', 'price'] },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('remove' as const),
      orderId: orderIdArb,
      productId: productIdArb,
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('submit' as const), orderId: orderIdArb }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('cancel' as const), orderId: orderIdArb, reason: idArb }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('reserve' as const),
      orderId: orderIdArb,
      productId: productIdArb,
      quantity: fc.integer({ min: 1, max: 4 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('release' as const),
      orderId: orderIdArb,
      productId: productIdArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('releaseCancelled' as const), orderId: orderIdArb }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('accept' as const), orderId: orderIdArb }) },
  {
    weight: 1,
    arbitrary: fc.record(
      { kind: fc.constant('reject' as const), orderId: orderIdArb, failing: productIdArb },
      { requiredKeys: ['kind', 'orderId'] },
    ),
  },
);

/**
 * The order service every writer uses (the steps and the activities alike), checking after each command that
 * the state it answers with (from the head's snapshot) equals the fold of the stream as stored.
 */
class CheckedOrderService extends OrderService {
  checked = 0;
  override async handle(...args: Parameters<OrderService['handle']>) {
    const r = await super.handle(...args);
    const { events } = await this.store.readStream(args[0]);
    // A command answers the order's latest events (what it appended, else the last stored one), not the
    // stream: it reads the head's snapshot, and the state must still equal the fold of the stream.
    expect(r.events).toEqual(events.slice(-Math.max(r.appended.length, 1)));
    expect(r.appended).toEqual(events.slice(events.length - r.appended.length));
    expect(r.state, `state of ${args[0]} after ${args[1].type}`).toEqual(fold(events.map(toDomainEvent)));
    expect(Object.getPrototypeOf(r.state.reservations)).toBeNull();
    this.checked++;
    return r;
  }
}

/** Refusals the rules make on purpose; anything else thrown fails the property. */
const isExpectedRefusal = (err: unknown) =>
  err instanceof DomainError ||
  err instanceof InsufficientStockError ||
  (err instanceof Error && /was released already/.test(err.message));

/** Events seen over all runs, by type (and whether a hostile product id), so the test can show it got somewhere. */
const seen = new Map<string, number>();

const cloudEventOptions = { source: '/test', typePrefix: 'com.test.orders', schemaBaseUrl: 'http://x' };

function expectValidEvent(e: RecordedEvent) {
  const schema = eventDataSchema(e.type, e.schemaVersion);
  expect(schema, `${e.type} v${e.schemaVersion} has a schema`).toBeDefined();
  const r = schema!.safeParse(e.data);
  expect(r.success, `${e.orderId} v${e.version} ${e.type} ${JSON.stringify(e.data)}`).toBe(true);
}

const addArb = fc.record(
  {
    kind: fc.constant('add' as const),
    orderId: orderIdArb,
    productId: productIdArb,
    quantity: fc.integer({ min: 1, max: 4 }),
    price: fc.constantFrom('0.00', '1.00', '2.50'),
    sellerId: idArb,
  },
  { requiredKeys: ['kind', 'orderId', 'productId', 'quantity', 'price'] },
);

/**
 * A run follows an order's life loosely, so that most runs get as far as reservations: both orders are
 * created, get lines, are submitted (mostly), then any step in any order, then the stock-release function
 * sees both orders. Every step may still meet an order in any state.
 */
const runArb = fc
  .record({
    orderIds: orderIdsArb,
    customers: fc.tuple(idArb, idArb),
    lines: fc.array(addArb, { minLength: 1, maxLength: 8 }),
    submit: fc.tuple(fc.boolean(), fc.boolean()),
    steps: fc.array(stepArb, { maxLength: 25, size: 'medium' }),
  })
  .map(({ orderIds, customers, lines, submit, steps }): Step<string>[] => {
    const run: Step[] = [
      // Both orders exist from the start (a step may create one again, with other data: refused).
      { kind: 'create', orderId: 0, customerId: customers[0] },
      { kind: 'create', orderId: 1, customerId: customers[1], referralCode: customers[0] },
      ...lines,
      ...([0, 1] as const).flatMap((o): Step[] =>
        submit[o] || o === 0 ? [{ kind: 'submit', orderId: o }] : [],
      ),
      ...steps,
      { kind: 'releaseCancelled', orderId: 0 },
      { kind: 'releaseCancelled', orderId: 1 },
    ];
    return run.map((step) => ({ ...step, orderId: orderIds[step.orderId] }));
  });

/** One run: a fresh in-memory database holding every store, the steps, then the checks. */
async function run(steps: Step<string>[]): Promise<void> {
  const db = openDatabase(':memory:');
  let tick = Date.parse('2026-01-01T00:00:00.000Z');
  const clock = () => new Date((tick += 1000));
  const store = new SqliteEventStore(db);
  const orders = new CheckedOrderService(store, clock, cloudEventOptions);
  const readModel = new SqliteOrderReadModel(db);
  const consumers = new SqliteConsumerStores(db);
  const stock = new SqliteStockReservations(db, {
    // Stock levels keyed by hostile product ids too; the others are unlimited.
    levels: new Map([
      ['constructor', 6],
      ['__proto__', 5],
      ['toString', 4],
      ['p-1', 6],
    ]),
    clock,
  });
  const deps: AcceptanceDeps = {
    orders,
    stock,
    policy: {
      approvalThreshold: '1000',
      approvalTimeoutSeconds: 60,
      retry: { firstRetryIntervalMs: 1, maxAttempts: 1, backoffCoefficient: 1, maxRetryIntervalMs: 1 },
    },
  };
  let feedPosition: string | undefined;
  const handle = (orderId: string, command: CommandInput) => orders.handle(orderId, command);
  const base = (orderId: string) => ({ orderId, instanceId: `acceptance-${orderId}` });

  /** The acceptance as the orchestration runs it: validate, reserve every line, accept or release and reject. */
  const accept = async (orderId: string, failing?: string) => {
    const v = await validateOrder(deps, base(orderId));
    if (!v.ok) {
      if (!v.skip) await rejectOrder(deps, { ...base(orderId), reason: v.reason });
      return;
    }
    const reserved: string[] = [];
    const failures: ReservationFailure[] = [];
    for (const line of v.lines) {
      if (line.productId === failing) {
        failures.push({ ...line, reason: 'simulated failure' });
        continue;
      }
      try {
        await reserveStock(deps, { ...base(orderId), ...line });
        reserved.push(line.productId);
      } catch (err) {
        if (!isExpectedRefusal(err)) throw err;
        failures.push({ ...line, reason: err instanceof Error ? err.message : String(err) });
      }
    }
    if (failures.length === 0 && failing === undefined) {
      await acceptOrder(deps, base(orderId));
      return;
    }
    for (const productId of reserved) await releaseStock(deps, { ...base(orderId), productId });
    await rejectOrder(deps, { ...base(orderId), reason: 'stock could not be reserved', failures });
  };

  /** The change feed: new commits to the projection and, as CloudEvents over JSON, to both consumers. */
  const deliver = async () => {
    const page = await store.readFeed(feedPosition, 1000);
    feedPosition = page.position;
    await projectCommits(page.commits, readModel, store);
    for (const commit of page.commits) {
      for (const ce of toCloudEvents(commit, cloudEventOptions)) {
        const raw: unknown = JSON.parse(JSON.stringify(ce));
        const stockDelivery = receive(raw, ['ProductAddedToOrder']);
        if (stockDelivery.kind === 'malformed') throw new Error(`malformed: ${stockDelivery.reason}`);
        if (stockDelivery.kind === 'event') await checkStock(stockDelivery.event, consumers);
        const notice = receive(raw, ['OrderAccepted', 'OrderRejected', 'OrderCancelled']);
        if (notice.kind === 'malformed') throw new Error(`malformed: ${notice.reason}`);
        if (notice.kind === 'event') await notifyCustomer(notice.event, consumers);
      }
    }
  };

  try {
    for (const step of steps) {
      const { orderId } = step;
      try {
        switch (step.kind) {
          case 'create':
            await handle(orderId, {
              type: 'CreateOrder',
              customerId: step.customerId,
              ...(step.referralCode ? { referralCode: step.referralCode } : {}),
            });
            break;
          case 'add':
            await handle(orderId, {
              type: 'AddProduct',
              line: {
                productId: step.productId,
                quantity: step.quantity,
                unitPrice: step.price,
                currency: 'BRL',
                ...(step.sellerId ? { sellerId: step.sellerId } : {}),
              },
            });
            break;
          case 'remove':
            await handle(orderId, { type: 'RemoveProduct', productId: step.productId });
            break;
          case 'submit':
            await handle(orderId, { type: 'SubmitOrder' });
            break;
          case 'cancel':
            await handle(orderId, { type: 'CancelOrder', reason: step.reason });
            break;
          case 'reserve':
            await reserveStock(deps, {
              ...base(orderId),
              productId: step.productId,
              quantity: step.quantity,
            });
            break;
          case 'release':
            await releaseStock(deps, { ...base(orderId), productId: step.productId });
            break;
          case 'releaseCancelled': {
            const { version } = await orders.load(orderId);
            await releaseCancelledOrder(deps, { orderId, version });
            break;
          }
          case 'accept':
            await accept(orderId);
            break;
          case 'reject':
            await accept(orderId, step.failing ?? '');
            break;
        }
      } catch (err) {
        if (!isExpectedRefusal(err)) throw err;
      }
      await deliver();
    }
    await deliver();

    const orderIds = [...new Set(steps.map((s) => s.orderId))];
    const demand = new Map<string, number>();
    const reservedRows = db
      .prepare(
        "SELECT reservation_id, order_id, product_id, quantity FROM stock_reservations WHERE status = 'reserved'",
      )
      .all() as { reservation_id: string; order_id: string; product_id: string; quantity: number }[];

    for (const orderId of orderIds) {
      const { events, version } = await store.readStream(orderId);
      const domainEvents: OrderEvent[] = events.map(toDomainEvent);
      const state = fold(domainEvents);

      // Every appended event validates against its schema at its schema version.
      events.forEach(expectValidEvent);
      for (const e of events) {
        const key = `${e.type}${hostile.includes((e.data as { productId?: string }).productId ?? '') ? ' (hostile product)' : ''}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
      }

      // StockReleased names the reservation StockReserved recorded, with its quantity and id.
      const held = new Map<string, { reservationId: string; quantity: number }>();
      for (const e of domainEvents) {
        if (e.type === 'StockReserved') {
          expect(held.has(e.data.productId), `${orderId}: ${e.data.productId} reserved twice`).toBe(false);
          held.set(e.data.productId, { reservationId: e.data.reservationId, quantity: e.data.quantity });
        }
        if (e.type === 'StockReleased') {
          expect(held.get(e.data.productId), `${orderId}: release of ${e.data.productId}`).toEqual({
            reservationId: e.data.reservationId,
            quantity: e.data.quantity,
          });
          held.delete(e.data.productId);
        }
        if (e.type === 'ProductAddedToOrder') {
          demand.set(e.data.productId, (demand.get(e.data.productId) ?? 0) + e.data.quantity);
        }
      }
      // (Each command's answered state was checked against the fold of the log as it was handled.)
      expect(orders.checked).toBeGreaterThan(0);
      expect(reservedProducts(state).sort()).toEqual([...held.keys()].sort());
      for (const [productId, r] of held) expect(heldReservation(state, productId)).toEqual(r);
      expect(Object.getPrototypeOf(state.reservations)).toBeNull();

      // The decider, on the folded state, decides nothing more for what the log already records.
      for (const productId of state.exists ? ids : []) {
        const r = heldReservation(state, productId);
        const again: OrderCommand = {
          type: 'ReserveStock',
          productId,
          quantity: 1,
          reservationId: `${orderId}/${productId}`,
          occurredAt: '2026-01-01T00:00:00.000Z',
        };
        if (r && state.status === 'submitted') expect(decide(again, state)).toEqual([]);
        const release = decide(
          { type: 'ReleaseStock', productId, occurredAt: '2026-01-01T00:00:00.000Z' },
          state,
        );
        expect(release).toEqual(
          r
            ? [
                {
                  type: 'StockReleased',
                  data: { productId, quantity: r.quantity, reservationId: r.reservationId },
                  occurredAt: '2026-01-01T00:00:00.000Z',
                },
              ]
            : [],
        );
      }

      // The stock store holds as reserved exactly what the log holds as reserved.
      const rows = reservedRows.filter((row) => row.order_id === orderId);
      expect(rows.map((row) => row.product_id).sort()).toEqual([...held.keys()].sort());
      for (const row of rows) {
        expect(held.get(row.product_id)).toEqual({
          reservationId: row.reservation_id,
          quantity: row.quantity,
        });
      }

      // The read model: the summary and the state of the fold.
      const entry = await readModel.get(orderId);
      if (events.length === 0) {
        expect(entry).toBeUndefined();
      } else {
        const last = events[events.length - 1];
        expect(entry?.summary).toEqual(toSummary(toOrderView(orderId, state, version, last.occurredAt)));
        expect(entry?.state).toEqual(state);
        expect(reservedProducts(entry!.state).sort()).toEqual(reservedProducts(state).sort());
      }

      // Notifications: one per OrderAccepted, OrderRejected, OrderCancelled.
      const notified = events.filter((e) =>
        ['OrderAccepted', 'OrderRejected', 'OrderCancelled'].includes(e.type),
      ).length;
      expect((await consumers.listForOrder(orderId)).length).toBe(notified);
    }
    // Stock demand: the units of every ProductAddedToOrder, per product.
    for (const productId of ids) {
      expect((await consumers.get(productId))?.demanded ?? 0, `demand for ${productId}`).toBe(
        demand.get(productId) ?? 0,
      );
    }
  } finally {
    db.close();
  }
}

describe('user-chosen ids named like prototype properties (issue 9)', () => {
  it('the hostile names are valid ids, so users can send them', () => {
    expect(hostile).toEqual(expect.arrayContaining(['__proto__', 'constructor', 'toString', 'a.b', 'x:y']));
  });

  it('random command sequences append only valid events, and every view agrees with the fold of the log', async () => {
    await fc.assert(fc.asyncProperty(runArb, run), { numRuns: 100 });
    // The runs got as far as reserving and releasing hostile products (well over a hundred times each).
    expect(seen.get('StockReserved (hostile product)')).toBeGreaterThan(0);
    expect(seen.get('StockReleased (hostile product)')).toBeGreaterThan(0);
  });

  it('the decider alone: a fold of the decided events answers every reservation question from own data', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(productIdArb, fc.integer({ min: 1, max: 9 }), fc.boolean()), { maxLength: 30 }),
        (ops) => {
          const at = '2026-01-01T00:00:00.000Z';
          let state: OrderState = fold([
            { type: 'OrderCreated', data: { customerId: 'constructor' }, occurredAt: at },
            {
              type: 'ProductAddedToOrder',
              data: { productId: '__proto__', quantity: 1, unitPrice: '1.00', currency: 'BRL' },
              occurredAt: at,
            },
            {
              type: 'OrderSubmitted',
              data: { total: '1.00', currency: 'BRL', lineCount: 1 },
              occurredAt: at,
            },
          ]);
          const model = new Map<string, number>();
          for (const [productId, quantity, reserve] of ops) {
            const command: OrderCommand = reserve
              ? { type: 'ReserveStock', productId, quantity, reservationId: `r/${productId}`, occurredAt: at }
              : { type: 'ReleaseStock', productId, occurredAt: at };
            const events = decide(command, state);
            for (const e of events) {
              const r = eventDataSchema(e.type, 1)!.safeParse(e.data);
              expect(r.success, `${e.type} ${JSON.stringify(e.data)}`).toBe(true);
            }
            if (reserve) {
              expect(events.length).toBe(model.has(productId) ? 0 : 1);
              if (!model.has(productId)) model.set(productId, quantity);
            } else {
              expect(events.length).toBe(model.has(productId) ? 1 : 0);
              if (events.length) expect(events[0].data).toMatchObject({ quantity: model.get(productId) });
              model.delete(productId);
            }
            state = fold(events, state);
            // The state survives the read model's JSON round trip unchanged.
            expect(JSON.parse(JSON.stringify(state.reservations))).toEqual({ ...state.reservations });
          }
          expect(reservedProducts(state).sort()).toEqual([...model.keys()].sort());
          expect(Object.getPrototypeOf(initialState().reservations)).toBeNull();
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a consumer takes no event type or data field from a prototype', () => {
    const delivery = (type: string, data: string) =>
      JSON.parse(
        `{"id":"__proto__:2","type":"com.test.orders.${type}.v1","time":"2026-01-01T00:00:00Z",` +
          `"subject":"orders/__proto__","orderversion":2,"data":${data}}`,
      ) as unknown;
    for (const type of ['constructor', 'toString', 'valueOf', 'hasOwnProperty', 'prototype']) {
      expect(receive(delivery(type, '{}'), ['ProductAddedToOrder', 'OrderAccepted'])).toEqual({
        kind: 'ignored',
      });
    }
    // Fields behind a `__proto__` key are not the event's own: the delivery is malformed, not an event.
    const smuggled = delivery(
      'ProductAddedToOrder',
      '{"__proto__":{"productId":"p-1","quantity":1,"unitPrice":"1.00","currency":"BRL"}}',
    );
    expect(receive(smuggled, ['ProductAddedToOrder'])).toMatchObject({ kind: 'malformed' });
    const own = delivery(
      'ProductAddedToOrder',
      '{"productId":"__proto__","quantity":1,"unitPrice":"1.00","currency":"BRL"}',
    );
    expect(receive(own, ['ProductAddedToOrder'])).toMatchObject({
      kind: 'event',
      event: { eventType: 'ProductAddedToOrder', data: { productId: '__proto__', quantity: 1 } },
    });
  });
});
