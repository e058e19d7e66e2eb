import { describe, expect, it } from 'vitest';
import { computeFunnel, defaultFunnelSteps, FunnelQuery } from '../../src/analytics/funnel/funnel';
import { computeProcessMap, followsHappyPath } from '../../src/analytics/funnel/processMap';
import { quantile } from '../../src/analytics/funnel/stats';
import { projectJourneys } from '../../src/app/journeyProjection';
import { openDatabase } from '../../src/adapters/sqlite/database';
import { SqliteEventStore } from '../../src/adapters/sqlite/sqliteEventStore';
import { SqliteJourneyStore } from '../../src/adapters/sqlite/sqliteJourneyStore';
import { FeedDocument } from '../../src/app/projection';
import { OrderJourney } from '../../src/ports/journeyStore';
import { collect } from '../../src/app/eventLog';

/** Issue 12, point 5: the funnel and process-map semantics (src/analytics/funnel), and the journey projection. */

const hour = 3600_000;
const t0 = Date.UTC(2021, 0, 1);
const iso = (h: number) => new Date(t0 + h * hour).toISOString();

/** A journey from [type, business hour, recorded hour?] in stream order. */
function journey(
  orderId: string,
  steps: [string, number, number?][],
  extra: Partial<OrderJourney> = {},
): OrderJourney {
  return {
    orderId,
    customerId: `c-${orderId}`,
    version: steps.length,
    events: steps.map(([type, h, r], k) => ({
      type,
      version: k + 1,
      occurredAt: iso(h),
      recordedAt: iso(r ?? h),
    })),
    ...extra,
  };
}

const query = (q: Partial<FunnelQuery> = {}): FunnelQuery => ({
  steps: defaultFunnelSteps,
  countBy: 'orders',
  time: 'business',
  ...q,
});

describe('quantiles', () => {
  it('interpolates between the closest ranks (Hyndman and Fan definition 7)', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([10, 0, 5], 0.5)).toBe(5);
    expect(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9)).toBeCloseTo(9.1, 12);
    expect(quantile([], 0.5)).toBeNull();
  });
});

describe('the funnel', () => {
  const full = journey('a', [
    ['OrderCreated', 0],
    ['ProductAddedToOrder', 1],
    ['ProductAddedToOrder', 2],
    ['OrderSubmitted', 3],
    ['OrderAccepted', 5],
    ['OrderShipped', 29],
    ['OrderDelivered', 101],
  ]);
  const dropped = journey('b', [
    ['OrderCreated', 10],
    ['ProductAddedToOrder', 11],
    ['OrderSubmitted', 13],
    ['OrderCancelled', 14],
  ]);
  const empty = journey('c', [
    ['OrderCreated', 20],
    ['OrderSubmitted', 21],
  ]);

  it('counts orders per step with conversion, drop-off and time to convert from the previous step', () => {
    const { steps } = computeFunnel([full, dropped, empty], query());
    expect(steps.map((s) => s.count)).toEqual([3, 2, 2, 1, 1, 1]);
    expect(steps.map((s) => s.dropOff)).toEqual([0, 1, 0, 1, 0, 0]);
    expect(steps.map((s) => s.conversionFromPrevious)).toEqual([null, 2 / 3, 1, 0.5, 1, 1]);
    expect(steps.map((s) => s.conversionFromFirst)).toEqual([1, 2 / 3, 2 / 3, 1 / 3, 1 / 3, 1 / 3]);
    // a: created→first line 1 h, first line→submitted 2 h (the earliest later match); b: 1 h, 2 h.
    expect(steps[1]).toMatchObject({ medianSecondsToConvert: 3600, p90SecondsToConvert: 3600 });
    expect(steps[2]).toMatchObject({ medianSecondsToConvert: 7200 });
    expect(steps[5]).toMatchObject({ medianSecondsToConvert: 72 * 3600, p90SecondsToConvert: 72 * 3600 });
    expect(steps[0].medianSecondsToConvert).toBeNull();
  });

  it('keeps later steps inside the conversion window from the entry', () => {
    const { steps } = computeFunnel([full], query({ windowSeconds: 30 * 3600 }));
    expect(steps.map((s) => s.count)).toEqual([1, 1, 1, 1, 1, 0]);
  });

  it('takes orders whose entry lies in [from, to)', () => {
    expect(computeFunnel([full, dropped, empty], query({ from: iso(10), to: iso(20) })).steps[0].count).toBe(
      1,
    );
    expect(computeFunnel([full, dropped, empty], query({ from: iso(10) })).steps[0].count).toBe(2);
  });

  it('follows time, not the stream, where business times run backwards', () => {
    const backwards = journey('d', [
      ['OrderCreated', 0],
      ['ProductAddedToOrder', 0],
      ['OrderSubmitted', 0],
      ['OrderAccepted', 10],
      ['OrderShipped', 5],
    ]);
    expect(computeFunnel([backwards], query()).steps.map((s) => s.count)).toEqual([1, 1, 1, 1, 0, 0]);
    // Recorded in stream order, it ships after acceptance.
    const recorded = journey('e', [
      ['OrderCreated', 0, 0],
      ['OrderAccepted', 10, 1],
      ['OrderShipped', 5, 2],
    ]);
    const steps = ['OrderCreated', 'OrderAccepted', 'OrderShipped'];
    expect(computeFunnel([recorded], query({ steps, time: 'recorded' })).steps.map((s) => s.count)).toEqual([
      1, 1, 1,
    ]);
    expect(computeFunnel([recorded], query({ steps })).steps.map((s) => s.count)).toEqual([1, 1, 0]);
  });

  it("counts a customer once, by the order that got furthest, and breaks down by the order's properties", () => {
    const same = { customerId: 'c-1' };
    const journeys = [
      { ...full, ...same, customerState: 'SP', currency: 'BRL' },
      { ...dropped, ...same, customerState: 'RJ' },
      { ...empty, customerState: 'RJ' },
    ];
    const customers = computeFunnel(journeys, query({ countBy: 'customers', breakdown: 'customerState' }));
    expect(customers.steps.map((s) => s.count)).toEqual([2, 1, 1, 1, 1, 1]);
    expect(customers.breakdown!.map((g) => [g.key, g.steps[0].count, g.steps[5].count])).toEqual([
      ['RJ', 1, 0],
      ['SP', 1, 1],
    ]);
    const byCurrency = computeFunnel(journeys, query({ breakdown: 'currency' }));
    expect(byCurrency.breakdown!.map((g) => [g.key, g.steps[0].count])).toEqual([
      [null, 2],
      ['BRL', 1],
    ]);
  });
});

describe('the process map', () => {
  it('draws directly-follows edges with counts and times, and the share of orders on the happy path', () => {
    const a = journey('a', [
      ['OrderCreated', 0],
      ['ProductAddedToOrder', 1],
      ['ProductAddedToOrder', 3],
      ['OrderSubmitted', 4],
      ['OrderAccepted', 6],
      ['OrderShipped', 7],
      ['OrderDelivered', 9],
    ]);
    const b = journey('b', [
      ['OrderCreated', 0],
      ['ProductAddedToOrder', 1],
      ['OrderSubmitted', 2],
      ['OrderCancelled', 3],
    ]);
    const map = computeProcessMap([a, b], { time: 'business' });
    expect(map.orders).toBe(2);
    expect(map.edges.find((e) => e.from === 'OrderCreated' && e.to === 'ProductAddedToOrder')).toEqual({
      from: 'OrderCreated',
      to: 'ProductAddedToOrder',
      count: 2,
      medianSeconds: 3600,
      p90Seconds: 3600,
    });
    expect(
      map.edges.find((e) => e.from === 'ProductAddedToOrder' && e.to === 'ProductAddedToOrder'),
    ).toMatchObject({
      count: 1,
      medianSeconds: 7200,
    });
    expect(map.nodes.find((n) => n.eventType === 'ProductAddedToOrder')).toEqual({
      eventType: 'ProductAddedToOrder',
      events: 3,
      orders: 2,
    });
    expect(map.end).toEqual([
      { eventType: 'OrderCancelled', orders: 1 },
      { eventType: 'OrderDelivered', orders: 1 },
    ]);
    expect(map.happyPath).toMatchObject({ orders: 1, share: 0.5 });
    expect(
      followsHappyPath([...defaultFunnelSteps.slice(0, 3), 'StockReserved', ...defaultFunnelSteps.slice(3)]),
    ).toBe(true);
    expect(followsHappyPath(defaultFunnelSteps.slice(0, 5))).toBe(false);
  });
});

describe('the journey projection', () => {
  it('keeps each order’s events once under redelivery, and rebuilds from the stream across a gap', async () => {
    const db = openDatabase(':memory:');
    const store = new SqliteEventStore(db);
    const journeys = new SqliteJourneyStore(db);
    const ev = (type: string, data: unknown, h: number) => ({
      type,
      schemaVersion: type === 'OrderCreated' ? 2 : 1,
      data,
      occurredAt: iso(h),
      metadata: {},
    });
    const c1 = (
      await store.append('o-1', 0, [ev('OrderCreated', { customerId: 'c', customerState: 'MG' }, 0)])
    ).commit;
    const c2 = (
      await store.append('o-1', 1, [
        ev('ProductAddedToOrder', { productId: 'p', quantity: 1, unitPrice: '1.00', currency: 'EUR' }, 1),
      ])
    ).commit;
    const c3 = (await store.append('o-1', 2, [ev('OrderSubmitted', { total: '1.00', lineCount: 1 }, 2)]))
      .commit;
    const docs = (...c: unknown[]) => c as FeedDocument[];
    expect(await projectJourneys(docs(c1), journeys, store)).toEqual({ applied: 1, skipped: 0 });
    // c2 is lost; c3 arrives: the journey is rebuilt from the stream.
    expect(await projectJourneys(docs(c3, { kind: 'head', orderId: 'o-1' }), journeys, store)).toEqual({
      applied: 1,
      skipped: 0,
    });
    expect(await projectJourneys(docs(c1, c2, c3), journeys, store)).toEqual({ applied: 0, skipped: 3 });
    const [j] = await collect(journeys.all());
    expect(j).toMatchObject({
      orderId: 'o-1',
      customerId: 'c',
      customerState: 'MG',
      currency: 'EUR',
      version: 3,
    });
    expect(j.events.map((e) => [e.type, e.version])).toEqual([
      ['OrderCreated', 1],
      ['ProductAddedToOrder', 2],
      ['OrderSubmitted', 3],
    ]);
    db.close();
  });
});
