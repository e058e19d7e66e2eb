import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServices, Services } from '../../src/composition/services';
import { readSettings } from '../../src/config/settings';
import { localToUtcIso, olistTimeToUtc } from '../../src/import/localTime';
import { ImportInputError, importOlist } from '../../src/import/olist';
import { OlistCustomer, OlistOrderRow, OlistRowError, planOrder } from '../../src/import/olistPlan';
import { parseArgs } from '../../src/import/cli';
import { eventDataSchema } from '../../src/domain/events';

/** Synthetic rows (made-up ids), so these run without the real sample. */
const row = (over: Partial<OlistOrderRow> = {}): OlistOrderRow => ({
  order_id: 'o-1',
  customer_id: 'c-1',
  order_status: 'delivered',
  order_purchase_timestamp: '2018-06-12 20:07:44',
  order_approved_at: '2018-06-12 20:44:26',
  order_delivered_carrier_date: '2018-06-13 13:09:00',
  order_delivered_customer_date: '2018-06-19 12:44:08',
  ...over,
});
const item = (k: number, productId: string, price: string, orderId = 'o-1') => ({
  order_id: orderId,
  order_item_id: String(k),
  product_id: productId,
  seller_id: 's-1',
  price,
});
const types = (p: ReturnType<typeof planOrder>) => p.commands.map((c) => c.type);
/** The customers file's row for the order's customer_id: the person and their state. */
const person: OlistCustomer = { uniqueId: 'person-1', state: 'SP' };

describe('Brazil local time to UTC', () => {
  it('uses UTC-3 in the southern winter and UTC-2 during DST (until 2019)', () => {
    expect(olistTimeToUtc('2018-06-15 12:00:00')).toBe('2018-06-15T15:00:00.000Z');
    expect(olistTimeToUtc('2018-01-15 12:00:00')).toBe('2018-01-15T14:00:00.000Z');
    expect(olistTimeToUtc('2019-12-15 12:00:00')).toBe('2019-12-15T15:00:00.000Z');
  });

  it('moves a time in the spring-forward gap forward and takes the earlier instant of a repeated hour', () => {
    expect(olistTimeToUtc('2017-10-15 00:30:00')).toBe('2017-10-15T03:30:00.000Z'); // 01:30 DST
    expect(olistTimeToUtc('2017-10-15 01:00:00')).toBe('2017-10-15T03:00:00.000Z');
    expect(olistTimeToUtc('2018-02-17 23:30:00')).toBe('2018-02-18T01:30:00.000Z'); // still DST
    expect(olistTimeToUtc('2018-02-18 00:30:00')).toBe('2018-02-18T03:30:00.000Z');
  });

  it('works for other zones and refuses text that is no timestamp', () => {
    expect(localToUtcIso('2024-03-31 03:30:00', 'Europe/Berlin')).toBe('2024-03-31T01:30:00.000Z');
    expect(() => olistTimeToUtc('2018-02-30 10:00:00')).toThrow(/not a valid date/);
    expect(() => olistTimeToUtc('12/06/2018 20:07')).toThrow(/not a timestamp/);
  });
});

describe('planning the commands of one Olist order', () => {
  it('groups item rows by product, with canonical BRL prices, all at the purchase time', () => {
    const plan = planOrder(
      row(),
      [item(2, 'p-1', '199.0'), item(1, 'p-2', '5'), item(3, 'p-1', '199.0')],
      person,
    );
    expect(types(plan)).toEqual([
      'CreateOrder',
      'AddProduct',
      'AddProduct',
      'SubmitOrder',
      'AcceptOrder',
      'ShipOrder',
      'DeliverOrder',
    ]);
    expect(plan.commands.slice(1, 3)).toEqual([
      expect.objectContaining({
        line: { productId: 'p-2', quantity: 1, unitPrice: '5.00', currency: 'BRL', sellerId: 's-1' },
      }),
      expect.objectContaining({
        line: { productId: 'p-1', quantity: 2, unitPrice: '199.00', currency: 'BRL', sellerId: 's-1' },
      }),
    ]);
    expect(plan.commands.slice(0, 4).every((c) => c.occurredAt === '2018-06-12T23:07:44.000Z')).toBe(true);
    expect(plan.commands.every((c) => c.history === true)).toBe(true);
    expect(plan.anomalies).toEqual([]);
  });

  it('ships a delivered order without approval time from submitted, inventing no acceptance', () => {
    const plan = planOrder(row({ order_approved_at: '' }), [item(1, 'p-1', '10')], person);
    expect(types(plan)).toEqual(['CreateOrder', 'AddProduct', 'SubmitOrder', 'ShipOrder', 'DeliverOrder']);
    expect(plan.anomalies).toEqual(['deliveredWithoutApproval']);
  });

  it('cancels after shipping at the latest known time and reports it', () => {
    const plan = planOrder(
      row({ order_status: 'canceled', order_delivered_customer_date: '' }),
      [item(1, 'p-1', '10')],
      person,
    );
    expect(types(plan)).toEqual([
      'CreateOrder',
      'AddProduct',
      'SubmitOrder',
      'AcceptOrder',
      'ShipOrder',
      'CancelOrder',
    ]);
    expect(plan.commands[5]).toMatchObject({
      reason: 'canceled in source',
      occurredAt: '2018-06-13T16:09:00.000Z',
    });
    expect(plan.anomalies).toEqual(['cancelledAfterCarrier']);
  });

  it('rejects an unavailable order without items at its approval time', () => {
    const plan = planOrder(
      row({
        order_status: 'unavailable',
        order_delivered_carrier_date: '',
        order_delivered_customer_date: '',
      }),
      [],
      person,
    );
    expect(types(plan)).toEqual(['CreateOrder', 'SubmitOrder', 'RejectOrder']);
    expect(plan.commands[2]).toMatchObject({ reason: 'unavailable', occurredAt: '2018-06-12T23:44:26.000Z' });
    expect(plan.anomalies).toEqual(['withoutItems']);
  });

  it('reports times out of order', () => {
    const plan = planOrder(
      row({
        order_delivered_carrier_date: '2018-06-12 20:00:00',
        order_delivered_customer_date: '2018-06-12 19:00:00',
      }),
      [item(1, 'p-1', '10')],
      person,
    );
    expect(plan.anomalies.sort()).toEqual([
      'carrierBeforeApproval',
      'carrierBeforePurchase',
      'deliveredBeforeCarrier',
    ]);
  });

  it('refuses a row whose time or price cannot be read', () => {
    expect(() => planOrder(row({ order_approved_at: 'yesterday' }), [], person)).toThrow(OlistRowError);
    expect(() => planOrder(row(), [item(1, 'p-1', '10.005')], person)).toThrow(OlistRowError);
  });

  it('keeps ids named like prototype properties as they are, grouping their rows by product', () => {
    const orderId = '__proto__';
    const plan = planOrder(
      row({ order_id: orderId, customer_id: 'constructor' }),
      [
        { ...item(1, '__proto__', '1.0', orderId), seller_id: 'hasOwnProperty' },
        { ...item(2, 'toString', '2.0', orderId), seller_id: 'hasOwnProperty' },
        { ...item(3, '__proto__', '1.0', orderId), seller_id: 'hasOwnProperty' },
      ],
      { uniqueId: 'valueOf' },
    );
    expect(plan.orderId).toBe('__proto__');
    expect(plan.commands[0]).toEqual(expect.objectContaining({ type: 'CreateOrder', customerId: 'valueOf' }));
    const lines = plan.commands.flatMap((c) => (c.type === 'AddProduct' ? [c.line] : []));
    expect(lines).toEqual([
      { productId: '__proto__', quantity: 2, unitPrice: '1.00', currency: 'BRL', sellerId: 'hasOwnProperty' },
      { productId: 'toString', quantity: 1, unitPrice: '2.00', currency: 'BRL', sellerId: 'hasOwnProperty' },
    ]);
    expect(lines.every((l) => Object.getPrototypeOf(l) === Object.prototype)).toBe(true);
  });

  it('refuses a row whose ids the event catalogue would refuse', () => {
    expect(() => planOrder(row({ order_id: 'o 1' }), [], person)).toThrow(/order_id/);
    expect(() => planOrder(row({ customer_id: 'c/1' }), [], undefined)).toThrow(/customer_id/);
    expect(() => planOrder(row(), [], { uniqueId: 'person 1' })).toThrow(/customer_unique_id/);
    expect(() => planOrder(row(), [item(1, '..', '1.0')], person)).toThrow(/product_id/);
    expect(() => planOrder(row(), [{ ...item(1, 'p-1', '1.0'), seller_id: '' }], person)).toThrow(
      /seller_id/,
    );
  });

  it("makes the customer's customer_unique_id the customerId, so one person's orders share a customer", () => {
    const first = planOrder(row({ order_id: 'o-1', customer_id: 'c-1' }), [], person);
    const second = planOrder(row({ order_id: 'o-2', customer_id: 'c-2' }), [], person);
    for (const plan of [first, second]) {
      expect(plan.commands[0]).toEqual(
        expect.objectContaining({ type: 'CreateOrder', customerId: 'person-1', customerState: 'SP' }),
      );
      expect(plan.anomalies).not.toContain('unknownCustomer');
    }
  });

  it('keeps customer_id as the customer and reports unknownCustomer when the customers file does not name the person', () => {
    // No row for the customer_id, and a row whose customer_unique_id is empty (its state is still used).
    const missing = planOrder(row({ customer_id: 'c-9' }), [item(1, 'p-1', '10')], undefined);
    expect(missing.commands[0]).toEqual(expect.objectContaining({ type: 'CreateOrder', customerId: 'c-9' }));
    expect(missing.commands[0]).not.toHaveProperty('customerState');
    expect(missing.anomalies).toEqual(['unknownCustomer']);
    const anonymous = planOrder(row({ customer_id: 'c-9' }), [item(1, 'p-1', '10')], { state: 'RJ' });
    expect(anonymous.commands[0]).toEqual(
      expect.objectContaining({ customerId: 'c-9', customerState: 'RJ' }),
    );
    expect(anonymous.anomalies).toEqual(['unknownCustomer']);
  });
});

describe('importing Olist rows whose ids and columns are named like prototype properties', () => {
  let dir: string;
  let services: Services;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'olist-hostile-'));
    // Extra columns named `__proto__` and `constructor`, which the import does not read.
    writeFileSync(
      path.join(dir, 'olist_orders_dataset.csv'),
      [
        '__proto__,order_id,customer_id,order_status,order_purchase_timestamp,order_approved_at,order_delivered_carrier_date,order_delivered_customer_date,constructor',
        'x,__proto__,constructor,canceled,2018-06-12 20:07:44,2018-06-12 20:44:26,,,y',
        'x,toString,__proto__,delivered,2018-06-12 20:07:44,2018-06-12 20:44:26,2018-06-13 13:09:00,2018-06-19 12:44:08,y',
        'x,bad id,c-1,delivered,2018-06-12 20:07:44,2018-06-12 20:44:26,2018-06-13 13:09:00,2018-06-19 12:44:08,y',
      ].join('\n') + '\n',
    );
    writeFileSync(
      path.join(dir, 'olist_order_items_dataset.csv'),
      [
        'order_id,order_item_id,product_id,seller_id,price,__proto__',
        '__proto__,1,constructor,hasOwnProperty,10.0,{}',
        '__proto__,2,constructor,hasOwnProperty,10.0,{}',
        '__proto__,3,valueOf,__proto__,5.5,{}',
        'toString,1,__proto__,s-1,1.0,{}',
        'hasOwnProperty,1,p-1,s-1,1.0,{}',
      ].join('\n') + '\n',
    );
    writeFileSync(
      path.join(dir, 'olist_customers_dataset.csv'),
      [
        'customer_id,__proto__,customer_unique_id,customer_state',
        'constructor,{},toString,SP',
        '__proto__,{},constructor,RJ',
      ].join('\n') + '\n',
    );
    services = createServices(readSettings({ DATA_DIR: ':memory:', EVENT_STORE: 'sqlite', PORT: '0' }));
  });

  afterEach(async () => {
    await services.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('imports them as they are, with valid events and a read model that matches', async () => {
    const summary = await importOlist(dir, services);
    expect(summary).toMatchObject({ orders: 3, itemRows: 5, ordersImported: 2 });
    expect(summary.anomalies).toMatchObject({
      invalidRow: 1,
      itemsWithoutOrder: 1,
      refusedCommands: 0,
      unknownCustomer: 0,
    });
    expect(summary.problems.join('\n')).toMatch(/hasOwnProperty/);

    const proto = await services.store.readStream('__proto__');
    expect(proto.events.map((e) => e.type)).toEqual([
      'OrderCreated',
      'ProductAddedToOrder',
      'ProductAddedToOrder',
      'OrderSubmitted',
      'OrderAccepted',
      'OrderCancelled',
    ]);
    // Customers looked up by customer_id (`constructor`, `__proto__`): the persons `toString`, `constructor`.
    expect(proto.events[0].data).toEqual({ customerId: 'toString', customerState: 'SP' });
    expect(proto.events[1].data).toEqual({
      productId: 'constructor',
      quantity: 2,
      unitPrice: '10.00',
      currency: 'BRL',
      sellerId: 'hasOwnProperty',
    });
    expect(proto.events[2].data).toMatchObject({ productId: 'valueOf', sellerId: '__proto__' });
    for (const e of [...proto.events, ...(await services.store.readStream('toString')).events]) {
      expect(eventDataSchema(e.type, e.schemaVersion)!.safeParse(e.data).success, e.type).toBe(true);
    }
    expect((await services.readModel.get('__proto__'))?.summary).toMatchObject({
      orderId: '__proto__',
      customerId: 'toString',
      status: 'cancelled',
      total: '25.50',
      itemCount: 3,
    });
    expect((await services.readModel.get('toString'))?.summary).toMatchObject({
      customerId: 'constructor',
      status: 'delivered',
      total: '1.00',
    });
    expect((await services.store.readStream('bad id')).version).toBe(0);

    const second = await importOlist(dir, services);
    expect(second).toMatchObject({ eventsAppended: 0, ordersAlreadyComplete: 2 });
  });
});

describe('importing a small Olist folder', () => {
  const header = {
    orders:
      'order_id,customer_id,order_status,order_purchase_timestamp,order_approved_at,order_delivered_carrier_date,order_delivered_customer_date,order_estimated_delivery_date',
    items: 'order_id,order_item_id,product_id,seller_id,shipping_limit_date,price,freight_value',
    customers: 'customer_id,customer_unique_id,customer_zip_code_prefix,customer_city,customer_state',
  };
  let dir: string;
  let services: Services;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'olist-small-'));
    writeFileSync(
      path.join(dir, 'olist_orders_dataset.csv'),
      [
        header.orders,
        'o-1,c-1,delivered,2018-06-12 20:07:44,2018-06-12 20:44:26,2018-06-13 13:09:00,2018-06-19 12:44:08,2018-07-17 00:00:00',
        'o-2,c-2,shipped,2017-01-10 08:00:00,2017-01-10 09:00:00,2017-01-11 10:00:00,,2017-02-01 00:00:00',
        'o-3,c-3,bogus,2017-01-10 08:00:00,,,,2017-02-01 00:00:00',
      ].join('\n') + '\n',
    );
    writeFileSync(
      path.join(dir, 'olist_order_items_dataset.csv'),
      [
        header.items,
        'o-1,1,p-1,s-1,2018-06-18 20:44:26,199.0,17.87',
        'o-1,2,p-1,s-1,2018-06-18 20:44:26,199.0,17.87',
        'o-2,1,p-2,s-2,2017-01-15 09:00:00,12.5,3.00',
        'o-9,1,p-2,s-2,2017-01-15 09:00:00,12.5,3.00',
      ].join('\n') + '\n',
    );
    // c-1 and c-2 are one person (two orders); c-3 is not in the file.
    writeFileSync(
      path.join(dir, 'olist_customers_dataset.csv'),
      [
        header.customers,
        'c-1,person-1,01310,sao paulo,SP',
        'c-2,person-1,01310,sao paulo,SP',
        'c-7,person-7,20040,rio de janeiro,RJ',
      ].join('\n') + '\n',
    );
    services = createServices(readSettings({ DATA_DIR: ':memory:', EVENT_STORE: 'sqlite', PORT: '0' }));
  });

  afterEach(async () => {
    await services.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('imports, reports what it cannot map, fills the read model and appends nothing the second time', async () => {
    const progress: number[] = [];
    const first = await importOlist(dir, services, {
      progressEvery: 1,
      onProgress: (p) => progress.push(p.ordersDone),
    });
    expect(progress).toEqual([1, 2, 3]);
    expect(first).toMatchObject({ orders: 3, itemRows: 4, eventsAppended: 6 + 5 + 2 });
    expect(first.anomalies).toMatchObject({
      unknownStatus: 1,
      withoutItems: 1,
      itemsWithoutOrder: 1,
      unknownCustomer: 1,
      refusedCommands: 0,
    });
    expect((await services.readModel.get('o-1'))?.summary).toMatchObject({
      status: 'delivered',
      total: '398.00',
    });
    expect((await services.readModel.get('o-2'))?.summary).toMatchObject({
      status: 'shipped',
      total: '12.50',
    });
    expect((await services.readModel.get('o-3'))?.summary).toMatchObject({
      status: 'submitted',
      total: '0.00',
    });

    const second = await importOlist(dir, services);
    expect(second).toMatchObject({ eventsAppended: 0, commandsSent: 0, ordersAlreadyComplete: 3 });
    expect(second.anomalies).toEqual(first.anomalies);
  });

  it("records one person's orders under their customer_unique_id, and an order whose customer is missing under its customer_id", async () => {
    await importOlist(dir, services);
    const page = await services.readModel.list({ customerId: 'person-1', limit: 10 });
    expect(page.items.map((o) => o.orderId).sort()).toEqual(['o-1', 'o-2']);
    expect((await services.store.readStream('o-2')).events[0].data).toEqual({
      customerId: 'person-1',
      customerState: 'SP',
    });
    expect((await services.store.readStream('o-3')).events[0].data).toEqual({ customerId: 'c-3' });
    expect((await services.readModel.list({ customerId: 'c-1', limit: 10 })).items).toEqual([]);
  });

  it('resumes an order whose import stopped half-way, without adding its lines twice', async () => {
    const meta = { metadata: { actor: 'import:olist', correlationId: 'o-1' } };
    const plan = planOrder(
      { ...row(), order_id: 'o-1' },
      [item(1, 'p-1', '199.0'), item(2, 'p-1', '199.0')].map((i) => ({ ...i, order_id: 'o-1' })),
      person,
    );
    for (const command of plan.commands.slice(0, 3)) await services.orders.handle('o-1', command, meta);
    const summary = await importOlist(dir, services);
    expect(summary.anomalies.streamDiffers).toBe(0);
    const { events } = await services.store.readStream('o-1');
    expect(events.map((e) => e.type)).toEqual([
      'OrderCreated',
      'ProductAddedToOrder',
      'OrderSubmitted',
      'OrderAccepted',
      'OrderShipped',
      'OrderDelivered',
    ]);
    expect((await services.readModel.get('o-1'))?.summary).toMatchObject({ itemCount: 2, total: '398.00' });
  });

  it('leaves an order that exists with other data alone and reports it', async () => {
    await services.orders.handle('o-1', { type: 'CreateOrder', customerId: 'someone-else' });
    const summary = await importOlist(dir, services);
    expect(summary.anomalies.streamDiffers).toBe(1);
    expect(summary.problems[0]).toMatch(/o-1/);
    expect((await services.store.readStream('o-1')).version).toBe(1);
  });

  it('says clearly when the folder or a file is missing', async () => {
    await expect(importOlist(path.join(dir, 'nope'), services)).rejects.toThrow(ImportInputError);
    rmSync(path.join(dir, 'olist_order_items_dataset.csv'));
    await expect(importOlist(dir, services)).rejects.toThrow(/no olist_order_items_dataset.csv/);
    // The customers file is required too: without it no order would have its person as customer.
    writeFileSync(path.join(dir, 'olist_order_items_dataset.csv'), `${header.items}\n`);
    rmSync(path.join(dir, 'olist_customers_dataset.csv'));
    await expect(importOlist(dir, services)).rejects.toThrow(/no olist_customers_dataset.csv/);
    expect((await services.store.readStream('o-1')).version).toBe(0);
  });
});

describe('import command line', () => {
  it('accepts olist <folder> and refuses anything else', () => {
    expect(parseArgs(['olist', 'data/olist'])).toEqual({ source: 'olist', folder: 'data/olist' });
    expect(() => parseArgs([])).toThrow(/no source/);
    expect(() => parseArgs(['retail', 'x'])).toThrow(/unknown source/);
    expect(() => parseArgs(['olist'])).toThrow(/no folder/);
    expect(() => parseArgs(['olist', 'a', 'b'])).toThrow(/unexpected/);
  });
});
