import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DatasetEvent, knownAtMs } from '../../src/analytics/dataset/datasetEvent';
import { featureRowsAt } from '../../src/analytics/dataset/purchase';
import { OrderEvent } from '../../src/domain/events';

/**
 * The leakage rule as a property: the feature rows of observation time t (which rows exist and every feature
 * in them) are a function of the events known at t alone. Any change to the events known only after t (by
 * business time or, for live events, by recorded time) leaves them as they were. Runs on the pure function
 * with small histories (a few orders, two customers, times on a coarse grid so that ties with t are common).
 */

const hour = 3_600_000;
const base = Date.UTC(2024, 0, 1);
const at = (h: number) => base + h * hour;

const customer = fc.constantFrom('c1', 'c2');
const product = fc.constantFrom('p1', 'p2');

const domainEvent: fc.Arbitrary<Omit<OrderEvent, 'occurredAt'>> = fc.oneof(
  fc.record({
    type: fc.constant('OrderCreated' as const),
    data: fc.record({ customerId: customer, referralCode: fc.option(fc.constant('r1'), { nil: undefined }) }),
  }),
  fc.record({
    type: fc.constant('OrderCreatedBasedOnAReferral' as const),
    data: fc.record({ customerId: customer, referralCode: fc.constant('r2') }),
  }),
  fc.record({
    type: fc.constant('ProductAddedToOrder' as const),
    data: fc.record({
      productId: product,
      quantity: fc.integer({ min: 1, max: 3 }),
      unitPrice: fc.constantFrom('1.50', '10.00'),
      currency: fc.constant('BRL'),
    }),
  }),
  fc.record({
    type: fc.constant('ProductRemovedFromOrder' as const),
    data: fc.record({ productId: product }),
  }),
  fc.record({
    type: fc.constant('OrderSubmitted' as const),
    data: fc.record({ total: fc.constantFrom('3.00', '20.00'), lineCount: fc.constant(1) }),
  }),
  fc.record({ type: fc.constant('OrderAccepted' as const), data: fc.constant({}) }),
  fc.record({ type: fc.constant('OrderRejected' as const), data: fc.constant({ reason: 'no' }) }),
  fc.record({ type: fc.constant('OrderCancelled' as const), data: fc.constant({ reason: 'no' }) }),
  fc.record({ type: fc.constant('OrderShipped' as const), data: fc.constant({}) }),
  fc.record({ type: fc.constant('OrderDelivered' as const), data: fc.constant({}) }),
  fc.record({
    type: fc.constant('StockReserved' as const),
    data: fc.record({ productId: product, quantity: fc.constant(1), reservationId: fc.constant('r') }),
  }),
  fc.record({
    type: fc.constant('StockReservationFailed' as const),
    data: fc.record({ productId: product, quantity: fc.constant(1), reason: fc.constant('out') }),
  }),
) as fc.Arbitrary<Omit<OrderEvent, 'occurredAt'>>;

/** An event without its version: the position in the history array is its stream order. */
type Draft = Omit<DatasetEvent, 'version'>;

const draft: fc.Arbitrary<Draft> = fc
  .record({
    orderId: fc.constantFrom('o1', 'o2', 'o3'),
    event: domainEvent,
    occurred: fc.integer({ min: 0, max: 40 }),
    delay: fc.integer({ min: 0, max: 12 }),
    imported: fc.boolean(),
  })
  .map(({ orderId, event, occurred, delay, imported }) => ({
    orderId,
    event: { ...event, occurredAt: new Date(at(occurred)).toISOString() } as OrderEvent,
    occurredAtMs: at(occurred),
    // imported history is recorded long after (the import day), live events a little after
    recordedAtMs: imported ? at(1000) : at(occurred + delay),
    imported,
  }));

/** Moves an event after t: past it by business time, or (made live) past it by recorded time only. */
const afterT = (d: Draft, t: number, how: 'occurred' | 'recorded', by: number): Draft =>
  how === 'occurred'
    ? {
        ...d,
        occurredAtMs: t + by * hour,
        event: { ...d.event, occurredAt: new Date(t + by * hour).toISOString() },
      }
    : { ...d, imported: false, recordedAtMs: t + by * hour };

const withVersions = (history: Draft[]): DatasetEvent[] => history.map((d, k) => ({ ...d, version: k + 1 }));

type Change =
  | { kind: 'remove' }
  | { kind: 'replace'; with: Draft; how: 'occurred' | 'recorded'; by: number }
  | { kind: 'keep' };

const change: fc.Arbitrary<Change> = fc.oneof(
  fc.constant({ kind: 'remove' as const }),
  fc.record({
    kind: fc.constant('replace' as const),
    with: draft,
    how: fc.constantFrom('occurred' as const, 'recorded' as const),
    by: fc.integer({ min: 1, max: 30 }),
  }),
  fc.constant({ kind: 'keep' as const }),
);

const addition = fc.record({
  event: draft,
  position: fc.nat(),
  how: fc.constantFrom('occurred' as const, 'recorded' as const),
  by: fc.integer({ min: 1, max: 30 }),
});

describe('leak-free features (property)', () => {
  it('changing, adding or removing events known only after t changes no feature row of t', () => {
    fc.assert(
      fc.property(
        fc.array(draft, { maxLength: 12 }),
        fc.integer({ min: 0, max: 45 }),
        fc.array(change, { maxLength: 12 }),
        fc.array(addition, { maxLength: 4 }),
        (history, tHours, changes, additions) => {
          const t = at(tHours);
          const before = featureRowsAt(withVersions(history), t);
          const mutated: Draft[] = [];
          history.forEach((d, k) => {
            const c = changes[k] ?? { kind: 'keep' };
            if (knownAtMs({ ...d, version: 0 }) <= t || c.kind === 'keep') mutated.push(d);
            else if (c.kind === 'replace') mutated.push(afterT(c.with, t, c.how, c.by));
            // remove: dropped
          });
          for (const a of additions) {
            mutated.splice(a.position % (mutated.length + 1), 0, afterT(a.event, t, a.how, a.by));
          }
          const after = featureRowsAt(withVersions(mutated), t);
          expect(after).toEqual(before);
        },
      ),
      { numRuns: 10_000 },
    );
  });

  it('is not vacuous: the generated histories give customer and open-order rows, and a known event moves them', () => {
    const seen = { customer: 0, order: 0, changedByKnown: 0 };
    fc.assert(
      fc.property(fc.array(draft, { maxLength: 12 }), fc.integer({ min: 0, max: 45 }), (history, tHours) => {
        const t = at(tHours);
        const rows = featureRowsAt(withVersions(history), t);
        for (const r of rows) seen[r.entity]++;
        const known = history.findIndex((d) => knownAtMs({ ...d, version: 0 }) <= t);
        if (known >= 0) {
          const without = history.filter((_, k) => k !== known);
          if (JSON.stringify(featureRowsAt(withVersions(without), t)) !== JSON.stringify(rows)) {
            seen.changedByKnown++;
          }
        }
      }),
      { numRuns: 1_000, seed: 12 },
    );
    expect(seen.customer).toBeGreaterThan(100);
    expect(seen.order).toBeGreaterThan(100);
    expect(seen.changedByKnown).toBeGreaterThan(100);
  });
});
