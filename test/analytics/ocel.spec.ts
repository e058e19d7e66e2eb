import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOcelLog, countOcel } from '../../src/analytics/ocel/ocelLog';
import { collect, readEventLog } from '../../src/app/eventLog';
import { main as exportOcel } from '../../src/cli/exportOcel';
import { createServices, Services } from '../../src/composition/services';
import { readSettings } from '../../src/config/settings';
import { OcelLog } from '../../src/ports/ocel';
import { ocelIntegrityProblems, schemaErrors, sqliteProblems } from './ocelChecks';

/**
 * Issue 12, point 4: the event log as OCEL 2.0 (src/analytics/ocel, src/adapters/ocel, src/cli/exportOcel.ts), on
 * a real embedded store filled through the OrderService. The Olist log is checked in olistAnalytics.spec.ts.
 */
const dataDir = mkdtempSync(join(tmpdir(), 'ocel-'));
const env = { ...process.env, DATA_DIR: dataDir, EVENT_STORE: 'sqlite' };
let services: Services;
let log: OcelLog;
let recorded: Awaited<ReturnType<typeof collect<import('../../src/ports/eventStore').RecordedEvent>>>;

const at = (day: number, hour = 12) => new Date(Date.UTC(2021, 0, day, hour)).toISOString();

beforeAll(async () => {
  services = createServices(readSettings(env));
  const h = (orderId: string, command: Parameters<Services['orders']['handle']>[1]) =>
    services.orders.handle(orderId, { ...command, history: true } as never, {
      metadata: { actor: 'test:ocel' },
    });
  // "x" is an order, a product, a customer and a seller at once: four objects, four ids.
  await h('x', { type: 'CreateOrder', customerId: 'x', referralCode: 'ref-1', occurredAt: at(1) });
  const line = (productId: string, sellerId?: string) => ({
    productId,
    quantity: 2,
    unitPrice: '10.50',
    currency: 'BRL',
    ...(sellerId ? { sellerId } : {}),
  });
  await h('x', { type: 'AddProduct', line: line('x', 'x'), occurredAt: at(1, 13) });
  await h('x', { type: 'AddProduct', line: line('p-2'), occurredAt: at(1, 14) });
  await h('x', { type: 'RemoveProduct', productId: 'p-2', occurredAt: at(1, 15) });
  await h('x', { type: 'SubmitOrder', occurredAt: at(2) });
  await h('x', { type: 'AcceptOrder', occurredAt: at(3) });
  await h('x', { type: 'ShipOrder', occurredAt: at(4) });
  await h('x', { type: 'DeliverOrder', occurredAt: at(9) });
  await h('o-2', { type: 'CreateOrder', customerId: 'c-2', customerState: 'SP', occurredAt: at(5) });
  await h('o-2', { type: 'AddProduct', line: line('x', 's-9'), occurredAt: at(5, 13) });
  await h('o-2', { type: 'SubmitOrder', occurredAt: at(5, 14) });
  await h('o-2', { type: 'CancelOrder', reason: 'changed mind', occurredAt: at(6) });
  recorded = await collect(readEventLog(services.store));
  log = buildOcelLog(recorded);
});
afterAll(async () => {
  await services?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const objectOf = (id: string) => log.objects.find((o) => o.id === id)!;
const eventOf = (id: string) => log.events.find((e) => e.id === id)!;

describe('the event log as an OCEL 2.0 log', () => {
  it('holds every event once, of its catalogue type at its business time, under an id unique across the log', () => {
    expect(log.events).toHaveLength(12);
    expect(new Set(log.events.map((e) => e.id)).size).toBe(12);
    expect(eventOf('event:x:1')).toMatchObject({ type: 'OrderCreated', time: at(1) });
    expect(eventOf('event:o-2:4')).toMatchObject({ type: 'OrderCancelled', time: at(6) });
    // Object ids are typed: the order, product, customer and seller named "x" are four objects.
    expect(
      log.objects
        .filter((o) => o.id.endsWith(':x'))
        .map((o) => o.id)
        .sort(),
    ).toEqual(['customer:x', 'order:x', 'product:x', 'seller:x']);
    expect(log.objectTypes.map((t) => t.name)).toEqual([
      'order',
      'customer',
      'product',
      'seller',
      'referral',
    ]);
    expect(ocelIntegrityProblems(log)).toEqual([]);
  });

  it('relates each event to every object it names, with qualifiers, and orders to their objects', () => {
    expect(eventOf('event:x:1').relationships).toEqual([
      { objectId: 'order:x', qualifier: 'order' },
      { objectId: 'customer:x', qualifier: 'customer' },
      { objectId: 'referral:ref-1', qualifier: 'referral code' },
    ]);
    expect(eventOf('event:x:2').relationships).toEqual([
      { objectId: 'order:x', qualifier: 'order' },
      { objectId: 'product:x', qualifier: 'added product' },
      { objectId: 'seller:x', qualifier: 'seller' },
    ]);
    expect(eventOf('event:x:4').relationships).toContainEqual({
      objectId: 'product:p-2',
      qualifier: 'removed product',
    });
    expect(eventOf('event:x:2').attributes).toEqual([
      { name: 'quantity', value: '2' },
      { name: 'unitPrice', value: '10.50' },
      { name: 'currency', value: 'BRL' },
      { name: 'recordedAt', value: expect.stringMatching(/Z$/) },
      { name: 'actor', value: 'test:ocel' },
    ]);
    expect(objectOf('order:x').relationships).toEqual([
      { objectId: 'customer:x', qualifier: 'placed by' },
      { objectId: 'referral:ref-1', qualifier: 'referred by' },
      { objectId: 'product:x', qualifier: 'contains' },
      { objectId: 'seller:x', qualifier: 'sold by' },
      { objectId: 'product:p-2', qualifier: 'contains' },
    ]);
  });

  it("records the order's status as a time-varying attribute, and the customer's state", () => {
    const status = (id: string) =>
      objectOf(id)
        .attributes.filter((a) => a.name === 'status')
        .map((a) => [a.value, a.time]);
    expect(status('order:x')).toEqual([
      ['draft', at(1)],
      ['submitted', at(2)],
      ['accepted', at(3)],
      ['shipped', at(4)],
      ['delivered', at(9)],
    ]);
    expect(status('order:o-2')).toEqual([
      ['draft', at(5)],
      ['submitted', at(5, 14)],
      ['cancelled', at(6)],
    ]);
    expect(objectOf('customer:c-2').attributes).toEqual([{ name: 'state', value: 'SP', time: at(5) }]);
    expect(objectOf('order:x').attributes).toContainEqual({
      name: 'currency',
      value: 'BRL',
      time: at(1, 13),
    });
  });

  it('selects events by business time, from inclusive and to exclusive, with the status folded over the whole stream', () => {
    const window = buildOcelLog(recorded, { from: at(3), to: at(6) });
    expect(window.events.map((e) => e.id)).toEqual([
      'event:x:6',
      'event:x:7',
      'event:o-2:1',
      'event:o-2:2',
      'event:o-2:3',
    ]);
    expect(window.objects.map((o) => o.id).sort()).toEqual([
      'customer:c-2',
      'order:o-2',
      'order:x',
      'product:x',
      'seller:s-9',
    ]);
    // The status at the first event in the window is the folded one (accepted), not draft.
    expect(window.objects.find((o) => o.id === 'order:x')!.attributes).toEqual([
      { name: 'status', value: 'accepted', time: at(3) },
      { name: 'status', value: 'shipped', time: at(4) },
    ]);
    expect(ocelIntegrityProblems(window)).toEqual([]);
    expect(schemaErrors(window)).toEqual([]);
  });

  it('writes JSON that the OCEL 2.0 schema accepts, and a SQLite file that keeps the format rules, with the same counts', async () => {
    const json = join(dataDir, 'out', 'log.json');
    const sqlite = join(dataDir, 'out', 'log.sqlite');
    expect(await exportOcel(['--format', 'json', '--output', json], env)).toBe(0);
    expect(await exportOcel(['--format', 'sqlite', '--output', sqlite], env)).toBe(0);
    const doc = JSON.parse(readFileSync(json, 'utf8'));
    expect(schemaErrors(doc)).toEqual([]);
    expect(ocelIntegrityProblems(doc)).toEqual([]);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const Libsql = require('libsql');
    const db = new Libsql(sqlite, { readonly: true });
    try {
      expect(sqliteProblems(db)).toEqual([]);
      const n = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
      expect({
        events: n('SELECT COUNT(*) AS n FROM event'),
        objects: n('SELECT COUNT(*) AS n FROM object'),
        eventObject: n('SELECT COUNT(*) AS n FROM event_object'),
        objectObject: n('SELECT COUNT(*) AS n FROM object_object'),
        objectAttributeChanges:
          n('SELECT COUNT(*) AS n FROM object_order WHERE ocel_changed_field IS NOT NULL') +
          n('SELECT COUNT(*) AS n FROM object_customer WHERE ocel_changed_field IS NOT NULL'),
        eventTypes: n('SELECT COUNT(*) AS n FROM event_map_type'),
        objectTypes: n('SELECT COUNT(*) AS n FROM object_map_type'),
      }).toEqual(countOcel(doc));
      expect(
        db
          .prepare(
            `SELECT ocel_time AS t, status FROM object_order WHERE ocel_id = 'order:o-2' AND ocel_changed_field = 'status' ORDER BY ocel_time`,
          )
          .all(),
      ).toEqual([
        { t: at(5), status: 'draft' },
        { t: at(5, 14), status: 'submitted' },
        { t: at(6), status: 'cancelled' },
      ]);
      expect(
        db
          .prepare(
            `SELECT quantity, unitPrice, currency FROM event_ProductAddedToOrder WHERE ocel_id = 'event:x:2'`,
          )
          .get(),
      ).toMatchObject({
        quantity: 2,
        unitPrice: 10.5,
        currency: 'BRL',
      });
    } finally {
      db.close();
    }
  });

  it('refuses bad arguments with exit code 2 and writes nothing', async () => {
    for (const args of [
      ['--format', 'xml'],
      ['--from', 'yesterday'],
      ['--from', '2021-01-02T00:00:00Z', '--to', '2021-01-01T00:00:00Z'],
      ['--unknown'],
    ])
      expect(await exportOcel(args, env), args.join(' ')).toBe(2);
  });
});
