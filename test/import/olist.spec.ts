import { parse } from 'csv-parse/sync';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModelLease } from '../../src/app/catchUp';
import { OrderSummary } from '../../src/domain/orderView';
import { createServices, Services } from '../../src/composition/services';
import { readSettings } from '../../src/config/settings';
import { ImportSummary, importOlist } from '../../src/import/olist';

/**
 * The Olist import against the real sample in ../shared/data/olist (read at run time, never copied).
 * Every expectation is computed here from the CSV files, independently of the importer's mapping code,
 * and checked against the facts in ../shared/data/README.md.
 */
const olistDir = path.resolve(__dirname, '../../../shared/data/olist');
const haveData = existsSync(path.join(olistDir, 'olist_orders_dataset.csv'));
if (!haveData) console.warn(`skipping the Olist import tests: ${olistDir} is absent`);

interface OrderRow {
  order_id: string;
  customer_id: string;
  order_status: string;
  order_purchase_timestamp: string;
  order_approved_at: string;
  order_delivered_carrier_date: string;
  order_delivered_customer_date: string;
}
interface ItemRow {
  order_id: string;
  product_id: string;
  price: string;
}
interface CustomerRow {
  customer_id: string;
  customer_unique_id: string;
  customer_state: string;
}

const readCsv = <T>(file: string): T[] =>
  parse(readFileSync(path.join(olistDir, file)), { columns: true, bom: true, skip_empty_lines: true }) as T[];

/** Price text ("199.0", "12.5", "7") to integer cents, without floats. */
const cents = (price: string): number => {
  const [whole, fraction = ''] = price.split('.');
  return Number(whole) * 100 + Number(fraction.padEnd(2, '0').slice(0, 2));
};

/** Lifecycle events the source implies for an order, after OrderCreated, the lines and OrderSubmitted. */
function lifecycle(o: OrderRow): string[] {
  const approved = o.order_approved_at !== '';
  const carrier = o.order_delivered_carrier_date !== '';
  switch (o.order_status) {
    case 'delivered':
      return [...(approved ? ['OrderAccepted'] : []), 'OrderShipped', 'OrderDelivered'];
    case 'shipped':
      return [...(approved ? ['OrderAccepted'] : []), 'OrderShipped'];
    case 'invoiced':
    case 'processing':
    case 'approved':
      return ['OrderAccepted'];
    case 'canceled':
      return [...(approved ? ['OrderAccepted'] : []), ...(carrier ? ['OrderShipped'] : []), 'OrderCancelled'];
    case 'unavailable':
      return ['OrderRejected'];
    default:
      throw new Error(`unexpected status ${o.order_status}`);
  }
}

const statusOf: Record<string, string> = {
  delivered: 'delivered',
  shipped: 'shipped',
  canceled: 'cancelled',
  unavailable: 'rejected',
  invoiced: 'accepted',
  processing: 'accepted',
  approved: 'accepted',
};

/**
 * Brazil local time to UTC for the sample's period (2016-2018), from the published DST dates rather than
 * the time-zone database the importer uses: UTC-2 during DST, else UTC-3. DST began at local midnight
 * (00:00 became 01:00: a time in that gap is read as standard time, i.e. moved forward) and ended at local
 * midnight (back to 23:00: the repeated hour is read as DST, the earlier instant).
 */
function brazilToUtc(local: string): string {
  const dst = [
    ['2016-10-16 01:00:00', '2017-02-19 00:00:00'],
    ['2017-10-15 01:00:00', '2018-02-18 00:00:00'],
    ['2018-11-04 01:00:00', '2019-02-17 00:00:00'],
  ];
  const inDst = dst.some(([from, to]) => local >= from && local < to);
  const ms = Date.parse(local.replace(' ', 'T') + 'Z') + (inDst ? 2 : 3) * 3_600_000;
  return new Date(ms).toISOString();
}

describe.skipIf(!haveData)('Olist import (real sample)', () => {
  let dataDir: string;
  let services: Services;
  let first: ImportSummary;
  let orders: OrderRow[];
  const itemsOf = new Map<string, ItemRow[]>();
  /** The customers file by customer_id: the person (customer_unique_id) and their state. */
  let customerOf: Map<string, CustomerRow>;
  let readModel: OrderSummary[];

  beforeAll(async () => {
    orders = readCsv<OrderRow>('olist_orders_dataset.csv');
    customerOf = new Map(readCsv<CustomerRow>('olist_customers_dataset.csv').map((c) => [c.customer_id, c]));
    for (const item of readCsv<ItemRow>('olist_order_items_dataset.csv')) {
      itemsOf.set(item.order_id, [...(itemsOf.get(item.order_id) ?? []), item]);
    }
    dataDir = mkdtempSync(path.join(tmpdir(), 'olist-import-'));
    services = createServices(readSettings({ DATA_DIR: dataDir, EVENT_STORE: 'sqlite', PORT: '0' }));
    first = await importOlist(olistDir, services);
    readModel = [];
    let continuationToken: string | undefined;
    do {
      const page = await services.readModel.list({ limit: 1000, continuationToken });
      readModel.push(...page.items);
      continuationToken = page.continuationToken;
    } while (continuationToken);
  }, 1_800_000);

  afterAll(async () => {
    await services?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const expectedEvents = (o: OrderRow) => {
    const products = new Set((itemsOf.get(o.order_id) ?? []).map((i) => i.product_id));
    return [
      'OrderCreated',
      ...[...products].map(() => 'ProductAddedToOrder'),
      'OrderSubmitted',
      ...lifecycle(o),
    ];
  };

  it('puts all 15,000 orders in the read model with the status their source status maps to', () => {
    expect(orders).toHaveLength(15_000);
    expect(readModel).toHaveLength(15_000);
    const count = (list: string[]) =>
      list.reduce<Record<string, number>>((m, s) => ({ ...m, [s]: (m[s] ?? 0) + 1 }), {});
    const byStatus = count(readModel.map((o) => o.status));
    expect(byStatus).toEqual({ delivered: 14_552, shipped: 159, cancelled: 113, rejected: 89, accepted: 87 });
    expect(byStatus).toEqual(count(orders.map((o) => statusOf[o.order_status])));
    const source = new Map(orders.map((o) => [o.order_id, o]));
    for (const o of readModel) expect(o.status).toBe(statusOf[source.get(o.orderId)!.order_status]);
  });

  it('converts every purchase time from Brazil local time to UTC, DST included', () => {
    const source = new Map(orders.map((o) => [o.order_id, o]));
    const wrong = readModel.filter(
      (o) => o.createdAt !== brazilToUtc(source.get(o.orderId)!.order_purchase_timestamp),
    );
    expect(wrong).toEqual([]);
    const offsets = new Set(
      readModel.map(
        (o) =>
          Date.parse(o.createdAt) -
          Date.parse(source.get(o.orderId)!.order_purchase_timestamp.replace(' ', 'T') + 'Z'),
      ),
    );
    expect([...offsets].sort((a, b) => a - b)).toEqual([2 * 3_600_000, 3 * 3_600_000]);
  });

  it('appends exactly the events the CSV rows imply, one command per commit, and nothing is refused', async () => {
    const total = orders.reduce((n, o) => n + expectedEvents(o).length, 0);
    expect(first.eventsAppended).toBe(total);
    expect(first.commandsSent).toBe(total);
    expect(first.orders).toBe(15_000);
    expect(first.itemRows).toBe(17_071);
    expect(first.anomalies.refusedCommands).toBe(0);
    expect(first.anomalies.invalidRow).toBe(0);
    expect(first.problems).toEqual([]);
    expect(readModel.reduce((n, o) => n + o.version, 0)).toBe(total);
    expect(first.readModel?.commits).toBe(total);
  });

  it('leaves the read model complete and the projection checkpoint at the end of the feed', async () => {
    const checkpoint = await services.store.getCheckpoint(readModelLease);
    expect((await services.store.readFeed(checkpoint, 10)).commits).toEqual([]);
  });

  it('reports the anomalies of the source', () => {
    // computed from the local-time strings of the CSV, which sort as times
    const count = (p: (o: OrderRow) => boolean) => orders.filter(p).length;
    const expected = {
      deliveredWithoutApproval: count((o) => o.order_status === 'delivered' && !o.order_approved_at),
      carrierBeforeApproval: count(
        (o) =>
          !!o.order_approved_at &&
          !!o.order_delivered_carrier_date &&
          o.order_delivered_carrier_date < o.order_approved_at,
      ),
      deliveredBeforeCarrier: count(
        (o) =>
          !!o.order_delivered_carrier_date &&
          !!o.order_delivered_customer_date &&
          o.order_delivered_customer_date < o.order_delivered_carrier_date,
      ),
      cancelledAfterCarrier: count((o) => o.order_status === 'canceled' && !!o.order_delivered_carrier_date),
      withoutItems: count((o) => !itemsOf.has(o.order_id)),
    };
    expect(expected).toEqual({
      deliveredWithoutApproval: 7,
      carrierBeforeApproval: 206,
      deliveredBeforeCarrier: 2,
      cancelledAfterCarrier: 11,
      withoutItems: 115,
    });
    expect(first.anomalies).toMatchObject({
      ...expected,
      refusedCommands: 0,
      streamDiffers: 0,
      itemsWithoutOrder: 0,
    });
  });

  it('records sampled orders as their rows say: events, times, lines and total', async () => {
    const byItems = [...itemsOf.entries()].sort((a, b) => b[1].length - a[1].length);
    const samples = [
      byItems[0][0], // the order with 21 item rows
      orders.find((o) => o.order_status === 'delivered' && !o.order_approved_at)!.order_id,
      orders.find((o) => o.order_status === 'canceled' && o.order_delivered_carrier_date)!.order_id,
      orders.find((o) => o.order_status === 'unavailable' && !itemsOf.has(o.order_id))!.order_id,
      orders.find((o) => o.order_status === 'invoiced')!.order_id,
      ...[0, 4_999, 9_999, 14_999].map((k) => orders[k].order_id),
    ];
    expect(itemsOf.get(samples[0])).toHaveLength(21);
    const source = new Map(orders.map((o) => [o.order_id, o]));
    for (const orderId of samples) {
      const row = source.get(orderId)!;
      const items = itemsOf.get(orderId) ?? [];
      const { events } = await services.store.readStream(orderId);
      expect(
        events.map((e) => e.type),
        orderId,
      ).toEqual(expectedEvents(row));
      expect(events[0].occurredAt).toBe(brazilToUtc(row.order_purchase_timestamp));
      // The customer is the person of the customers file, with their state (the funnel's breakdown by state).
      expect(events[0].data).toEqual({
        customerId: customerOf.get(row.customer_id)!.customer_unique_id,
        customerState: customerOf.get(row.customer_id)!.customer_state,
      });
      for (const e of events) expect(e.metadata).toEqual({ actor: 'import:olist', correlationId: orderId });
      const when = (type: string) => events.find((e) => e.type === type)?.occurredAt;
      if (row.order_status === 'delivered') {
        expect(when('OrderShipped')).toBe(brazilToUtc(row.order_delivered_carrier_date));
        expect(when('OrderDelivered')).toBe(brazilToUtc(row.order_delivered_customer_date));
      }
      if (row.order_approved_at && row.order_status !== 'unavailable') {
        expect(when('OrderAccepted')).toBe(brazilToUtc(row.order_approved_at));
      }

      const entry = await services.readModel.get(orderId);
      const totalCents = items.reduce((n, i) => n + cents(i.price), 0);
      expect(entry?.summary.total).toBe((totalCents / 100).toFixed(2));
      expect(entry?.summary.itemCount).toBe(items.length);
      expect(entry?.summary.version).toBe(events.length);
      expect(entry?.summary.status).toBe(statusOf[row.order_status]);
      const submitted = events.find((e) => e.type === 'OrderSubmitted');
      expect(submitted?.data).toMatchObject({ total: (totalCents / 100).toFixed(2) });
      for (const line of entry?.state.lines ?? []) {
        const rows = items.filter((i) => i.product_id === line.productId);
        expect(line.quantity).toBe(rows.length);
        expect(cents(line.unitPrice)).toBe(cents(rows[0].price));
        expect(line.unitPrice).toMatch(/^\d+\.\d{2}$/);
      }
    }
  });

  it('records every order under its customer_unique_id, so repeat customers have all their orders', () => {
    // Every order's customer_id is in the customers file, one row each; customer_id is one per order.
    expect(orders.every((o) => customerOf.has(o.customer_id))).toBe(true);
    expect(new Set(orders.map((o) => o.customer_id)).size).toBe(orders.length);
    expect(first.anomalies.unknownCustomer).toBe(0);
    const ordersOf = (pairs: [string, string][]) => {
      const by = new Map<string, string[]>();
      for (const [customer, orderId] of pairs) by.set(customer, [...(by.get(customer) ?? []), orderId]);
      return new Map([...by].map(([customer, list]) => [customer, list.sort()]));
    };
    const expected = ordersOf(
      orders.map((o) => [customerOf.get(o.customer_id)!.customer_unique_id, o.order_id]),
    );
    const stored = ordersOf(readModel.map((o) => [o.customerId, o.orderId]));
    expect(stored).toEqual(expected);
    const repeat = [...expected.values()].filter((list) => list.length >= 2);
    console.info(
      `Olist customers: ${expected.size} persons for ${orders.length} orders; ${repeat.length} with 2 or more orders ` +
        `(${repeat.reduce((n, l) => n + l.length, 0)} orders)`,
    );
    // As measured on the sample (docs/analytics.md): 14,904 persons, 93 of them with 2-4 orders.
    expect(expected.size).toBe(14_904);
    expect(repeat.length).toBe(93);
  });

  it('appends nothing when run a second time', async () => {
    const before = await services.store.readFeed(await services.store.getCheckpoint(readModelLease), 10);
    expect(before.commits).toEqual([]);
    const second = await importOlist(olistDir, services);
    expect(second.eventsAppended).toBe(0);
    expect(second.commandsSent).toBe(0);
    expect(second.ordersAlreadyComplete).toBe(15_000);
    expect(second.anomalies).toEqual(first.anomalies);
    expect(second.readModel?.commits).toBe(0);
  });
});
