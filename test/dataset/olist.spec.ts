import { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetCard } from '../../src/analytics/dataset/card';
import { buildPurchaseFolder, DatasetRun } from '../../src/cli/dataset';
import { createServices, Services } from '../../src/composition/services';
import { readSettings } from '../../src/config/settings';
import { importOlist } from '../../src/import/olist';
import { eventsOfCommit, RecordedEvent } from '../../src/ports/eventStore';

/**
 * The purchase training set of the real Olist sample (../shared/data/olist, read at run time), imported into a
 * fresh store and written by the command's own code, then read back from Parquet with DuckDB and checked against
 * figures computed here by hand from the stored events (a separate, plain implementation of the rule: every
 * event is imported, so an event is known at t when its occurredAt ≤ t).
 */
const olistDir = path.resolve(__dirname, '../../../shared/data/olist');
const haveData = existsSync(path.join(olistDir, 'olist_orders_dataset.csv'));
if (!haveData) console.warn(`skipping the Olist training-set tests: ${olistDir} is absent`);

const day = 86_400_000;
const horizon = 7 * day;

interface Row {
  observation_time: Date;
  entity: string;
  customer_id: string;
  order_id: string | null;
  imported_history: boolean;
  c_orders: bigint;
  c_orders_submitted: bigint;
  c_orders_accepted: bigint;
  c_orders_delivered: bigint;
  c_open_orders: bigint;
  c_days_since_last_order: number;
  c_submitted_value: number;
  c_units_added: bigint;
  o_status: string | null;
  o_units: bigint | null;
  label: boolean;
}

describe.skipIf(!haveData)('purchase training set of the Olist sample', () => {
  let dataDir: string;
  let services: Services;
  let run: DatasetRun;
  let card: DatasetCard;
  let events: RecordedEvent[];
  let db: DuckDBInstance;
  let duck: DuckDBConnection;
  const query = async <T>(sql: string) => (await duck.runAndReadAll(sql)).getRowObjectsJS() as T[];
  let file: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'olist-dataset-'));
    services = createServices(readSettings({ DATA_DIR: dataDir, EVENT_STORE: 'sqlite', PORT: '0' }));
    await importOlist(olistDir, services, { catchUp: false });
    events = [];
    let position: string | undefined;
    for (;;) {
      const page = await services.store.readFeed(position, 5000);
      if (!page.commits.length) break;
      for (const c of page.commits) events.push(...eventsOfCommit(c));
      position = page.position;
    }
    const folder = path.join(dataDir, 'purchase-7d');
    run = await buildPurchaseFolder(services.store, { kind: 'purchase', horizonMs: horizon }, folder, 'test');
    card = JSON.parse(readFileSync(path.join(folder, 'dataset-card.json'), 'utf8')) as DatasetCard;
    file = path.join(folder, 'data.parquet').replaceAll("'", "''");
    db = await DuckDBInstance.create(':memory:');
    duck = await db.connect();
    await duck.run(`SET TimeZone = 'UTC'`);
  }, 1_800_000);

  afterAll(async () => {
    duck?.closeSync();
    db?.closeSync();
    await services?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** Per order, by hand: customer, purchase time, and its events. */
  const orders = () => {
    const byOrder = new Map<string, RecordedEvent[]>();
    for (const e of events) byOrder.set(e.orderId, [...(byOrder.get(e.orderId) ?? []), e]);
    return byOrder;
  };
  const ms = (iso: string) => Date.parse(iso);

  it('writes as many rows and positives as the card says, with UTC timestamps, all marked as imported history', async () => {
    const [{ rows, positives, imported }] = await query<{
      rows: bigint;
      positives: bigint;
      imported: bigint;
    }>(
      `SELECT count(*) AS rows, count(*) FILTER (WHERE label) AS positives,
              count(*) FILTER (WHERE imported_history) AS imported FROM read_parquet('${file}')`,
    );
    expect(Number(rows)).toBe(card.rows);
    expect(Number(positives)).toBe(card.positives);
    expect(run).toMatchObject({ rows: card.rows, positives: card.positives });
    expect(Number(imported)).toBe(card.rows);
    expect(card.baseRate).toBeCloseTo(card.positives / card.rows, 12);
    expect(card.source).toMatchObject({
      events: events.length,
      importedEvents: events.length,
      unknownEvents: 0,
    });
    expect(card.leakageRule).toMatch(/occurredAt ≤ t AND recordedAt ≤ t/);
    expect(card.importedHistory).toMatch(/business time alone/);
    const [schema] = await query<{ logical_type: string }>(
      `SELECT logical_type FROM parquet_schema('${file}') WHERE name = 'observation_time'`,
    );
    expect(schema.logical_type).toMatch(/isAdjustedToUTC=1/);
    const columns = await query<{ name: string }>(
      `SELECT name FROM parquet_schema('${file}') WHERE num_children IS NULL`,
    );
    expect(columns.map((c) => c.name)).toEqual(card.columns.map((c) => c.name));
  });

  it('has one customer row per customer with an order by t, and as many positives as purchases in (t, t + 7d], at every t', async () => {
    const perT = await query<{ t: Date; entity: string; n: bigint; p: bigint }>(
      `SELECT observation_time AS t, entity, count(*) AS n, count(*) FILTER (WHERE label) AS p
       FROM read_parquet('${file}') GROUP BY ALL ORDER BY t`,
    );
    const times = [...new Set(perT.map((r) => r.t.getTime()))].sort((a, b) => a - b);
    expect(times.length).toBe(card.timeRange.observationTimes);
    const lastKnown = Math.max(...events.map((e) => ms(e.occurredAt)));
    expect(new Date(lastKnown).toISOString()).toBe(card.timeRange.dataEnd);
    // the grid: every 7 days from the first UTC midnight of the data; no label window passes the end
    const first = Math.ceil(Math.min(...events.map((e) => ms(e.occurredAt))) / day) * day;
    expect(times[0]).toBe(first);
    expect(times.every((t, k) => t === first + k * horizon)).toBe(true);
    expect(times[times.length - 1] + horizon).toBeLessThanOrEqual(lastKnown);
    expect(times[times.length - 1] + 2 * horizon).toBeGreaterThan(lastKnown);

    const created = new Map<string, { customer: string; at: number }>();
    const purchases = new Map<string, number[]>();
    for (const [orderId, list] of orders()) {
      const c = list.find((e) => e.type === 'OrderCreated')!;
      created.set(orderId, { customer: (c.data as { customerId: string }).customerId, at: ms(c.occurredAt) });
      purchases.set(
        orderId,
        list
          .filter((e) => e.type === 'OrderSubmitted' || e.type === 'OrderAccepted')
          .map((e) => ms(e.occurredAt)),
      );
    }
    let customerRows = 0;
    let customerPositives = 0;
    for (const t of times) {
      // A customer known by t is positive when any of their orders, even one created after t, is a purchase
      // in (t, t + horizon]: repeat customers (Olist's customer_unique_id) buy again with a new order.
      const customers = new Set<string>();
      const bought = new Set<string>();
      for (const [orderId, o] of created) {
        if (o.at <= t) customers.add(o.customer);
        if (purchases.get(orderId)!.some((x) => x > t && x <= t + horizon)) bought.add(o.customer);
      }
      const got = perT.find((r) => r.t.getTime() === t && r.entity === 'customer');
      expect(Number(got?.n ?? 0), new Date(t).toISOString()).toBe(customers.size);
      const positives = [...customers].filter((c) => bought.has(c)).length;
      expect(Number(got?.p ?? 0), new Date(t).toISOString()).toBe(positives);
      customerRows += customers.size;
      customerPositives += positives;
    }
    expect(card.byEntity.customer).toMatchObject({ rows: customerRows, positives: customerPositives });
  });

  it('has one order row per order still submitted (or draft) at t by what was known then', async () => {
    const got = await query<{ t: Date; order_id: string; o_status: string; label: boolean }>(
      `SELECT observation_time AS t, order_id, o_status, label FROM read_parquet('${file}') WHERE entity = 'order'`,
    );
    const times = [
      ...new Set(
        (await query<{ t: Date }>(`SELECT DISTINCT observation_time AS t FROM read_parquet('${file}')`)).map(
          (r) => r.t.getTime(),
        ),
      ),
    ];
    const expected: string[] = [];
    for (const [orderId, list] of orders()) {
      for (const t of times) {
        const known = list.filter((e) => ms(e.occurredAt) <= t);
        if (!known.some((e) => e.type === 'OrderCreated')) continue;
        const lifecycle = known.filter((e) =>
          [
            'OrderSubmitted',
            'OrderAccepted',
            'OrderRejected',
            'OrderCancelled',
            'OrderShipped',
            'OrderDelivered',
          ].includes(e.type),
        );
        const last = lifecycle.sort((a, b) => a.version - b.version).at(-1)?.type;
        if (last === undefined || last === 'OrderSubmitted') expected.push(`${t} ${orderId}`);
      }
    }
    expect(got.map((r) => `${r.t.getTime()} ${r.order_id}`).sort()).toEqual(expected.sort());
    expect(got.length).toBe(card.byEntity.order.rows);
  });

  it('recomputes the features of sampled rows from the events known at their t, by hand', async () => {
    const sample = [
      ...(await query<Row>(
        `SELECT * FROM read_parquet('${file}') USING SAMPLE reservoir(300 ROWS) REPEATABLE (42)`,
      )),
      ...(await query<Row>(
        `SELECT * FROM (FROM read_parquet('${file}') WHERE entity = 'order') USING SAMPLE reservoir(50 ROWS) REPEATABLE (42)`,
      )),
    ];
    expect(sample.filter((r) => r.entity === 'order').length).toBeGreaterThanOrEqual(50);
    const byCustomer = new Map<string, RecordedEvent[][]>();
    for (const [, list] of orders()) {
      const customer = (list.find((e) => e.type === 'OrderCreated')!.data as { customerId: string })
        .customerId;
      byCustomer.set(customer, [...(byCustomer.get(customer) ?? []), list]);
    }
    for (const row of sample) {
      const t = row.observation_time.getTime();
      // what was known at t: imported history, so business time alone
      const known = byCustomer
        .get(row.customer_id)!
        .map((list) => list.filter((e) => ms(e.occurredAt) <= t))
        .filter((list) => list.some((e) => e.type === 'OrderCreated'));
      const has = (type: string) => known.filter((list) => list.some((e) => e.type === type)).length;
      const createdAt = known.map((list) => ms(list.find((e) => e.type === 'OrderCreated')!.occurredAt));
      const submittedValue = known
        .flatMap((list) => list.filter((e) => e.type === 'OrderSubmitted'))
        .reduce((s, e) => s + Number((e.data as { total: string }).total), 0);
      const units = known
        .flatMap((list) => list.filter((e) => e.type === 'ProductAddedToOrder'))
        .reduce((s, e) => s + (e.data as { quantity: number }).quantity, 0);
      const where = `${row.entity} ${row.customer_id} at ${row.observation_time.toISOString()}`;
      expect(Number(row.c_orders), where).toBe(known.length);
      expect(Number(row.c_orders_submitted), where).toBe(has('OrderSubmitted'));
      expect(Number(row.c_orders_accepted), where).toBe(has('OrderAccepted'));
      expect(Number(row.c_orders_delivered), where).toBe(has('OrderDelivered'));
      expect(Number(row.c_units_added), where).toBe(units);
      expect(row.c_submitted_value, where).toBeCloseTo(submittedValue, 6);
      expect(row.c_days_since_last_order, where).toBeCloseTo((t - Math.max(...createdAt)) / day, 9);
      expect(row.c_days_since_last_order, where).toBeGreaterThanOrEqual(0);
      if (row.entity === 'order') {
        const list = known.find((l) => l[0].orderId === row.order_id)!;
        expect(list, where).toBeDefined();
        const added = list.filter((e) => e.type === 'ProductAddedToOrder');
        expect(Number(row.o_units), where).toBe(
          added.reduce((s, e) => s + (e.data as { quantity: number }).quantity, 0),
        );
      } else {
        expect(row.order_id).toBeNull();
        expect(row.o_status).toBeNull();
      }
    }
  });

  it('uses no event of the future: the accepted, delivered and created counts at t are those that had occurred by t', async () => {
    // Per observation time, the sums over customer rows equal the number of such events that occurred by t.
    const sums = await query<{ t: Date; accepted: bigint; delivered: bigint; orders: bigint }>(
      `SELECT observation_time AS t, sum(c_orders_accepted) AS accepted, sum(c_orders_delivered) AS delivered,
              sum(c_orders) AS orders
       FROM read_parquet('${file}') WHERE entity = 'customer' GROUP BY ALL`,
    );
    const occurredBy = (type: string, t: number) =>
      events.filter((e) => e.type === type && ms(e.occurredAt) <= t && ordersCreatedBy(e.orderId, t)).length;
    const createdAt = new Map(
      events.filter((e) => e.type === 'OrderCreated').map((e) => [e.orderId, ms(e.occurredAt)]),
    );
    const ordersCreatedBy = (orderId: string, t: number) => createdAt.get(orderId)! <= t;
    for (const s of sums.filter((_, k) => k % 10 === 0)) {
      const t = s.t.getTime();
      expect(Number(s.accepted)).toBe(occurredBy('OrderAccepted', t));
      expect(Number(s.delivered)).toBe(occurredBy('OrderDelivered', t));
      expect(Number(s.orders)).toBe([...createdAt.values()].filter((x) => x <= t).length);
    }
  });
});
