import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { computeFunnel, funnelDropOffs, FunnelQuery } from '../../src/analytics/funnel/funnel';
import { OrderJourney } from '../../src/ports/journeyStore';

/**
 * Issue 13: the drop-offs behind a funnel step (`GET /api/analytics/funnel/drop-offs`) are the very entries
 * the funnel counts: for every step k, those that reached k and not k + 1 number the funnel's dropOff of step
 * k + 1, whatever the journeys, steps, window and counting.
 */

const types = ['OrderCreated', 'ProductAddedToOrder', 'OrderSubmitted', 'OrderAccepted'] as const;
const t0 = Date.UTC(2021, 0, 1);

const journeyArb = (orderId: string): fc.Arbitrary<OrderJourney> =>
  fc
    .record({
      customer: fc.constantFrom('c-1', 'c-2', 'c-3', 'c-4'),
      events: fc.array(fc.record({ type: fc.constantFrom(...types), hours: fc.nat({ max: 48 }) }), {
        maxLength: 8,
      }),
    })
    .map(({ customer, events }) => {
      let at = t0;
      return {
        orderId,
        customerId: customer,
        version: events.length,
        events: events.map((e, k) => {
          at += e.hours * 3600_000;
          const iso = new Date(at).toISOString();
          return { type: e.type, version: k + 1, occurredAt: iso, recordedAt: iso };
        }),
      };
    });

const journeysArb = fc
  .integer({ min: 0, max: 25 })
  .chain((n) => fc.tuple(...Array.from({ length: n }, (_, k) => journeyArb(`o-${k}`))));

const queryArb: fc.Arbitrary<FunnelQuery> = fc.record({
  steps: fc.array(fc.constantFrom(...types), { minLength: 1, maxLength: 4 }),
  windowSeconds: fc.option(fc.integer({ min: 3600, max: 5 * 86400 }), { nil: undefined }),
  countBy: fc.constantFrom('orders' as const, 'customers' as const),
  time: fc.constant('business' as const),
});

describe('the drop-offs of a funnel step', () => {
  it("number the next step's dropOff for every step, journeys, window and counting (2,000 runs)", () => {
    fc.assert(
      fc.property(journeysArb, queryArb, (journeys, query) => {
        const funnel = computeFunnel(journeys, query);
        for (let step = 1; step <= query.steps.length; step++) {
          const drop = funnelDropOffs(journeys, query, step, 1000);
          const expected = step < query.steps.length ? funnel.steps[step].dropOff : 0;
          expect(drop.total).toBe(expected);
          expect(drop.items).toHaveLength(expected);
          expect(drop.eventType).toBe(query.steps[step - 1]);
          expect(drop.nextEventType).toBe(step < query.steps.length ? query.steps[step] : null);
          if (query.countBy === 'customers') {
            const customers = drop.items.map((i) => i.customerId);
            expect(new Set(customers).size).toBe(customers.length);
          }
        }
      }),
      { numRuns: 2000, seed: 13 },
    );
  });

  it('lists at most `limit` entries, earliest entry first, and refuses a step outside the funnel', () => {
    const at = (h: number) => new Date(t0 + h * 3600_000).toISOString();
    const journeys: OrderJourney[] = [3, 1, 2].map((h) => ({
      orderId: `o-${h}`,
      customerId: `c-${h}`,
      version: 1,
      events: [{ type: 'OrderCreated', version: 1, occurredAt: at(h), recordedAt: at(h) }],
    }));
    const query: FunnelQuery = {
      steps: ['OrderCreated', 'OrderSubmitted'],
      countBy: 'orders',
      time: 'business',
    };
    const drop = funnelDropOffs(journeys, query, 1, 2);
    expect(drop.total).toBe(3);
    expect(drop.items).toEqual([
      { customerId: 'c-1', orderIds: ['o-1'] },
      { customerId: 'c-2', orderIds: ['o-2'] },
    ]);
    expect(() => funnelDropOffs(journeys, query, 0, 10)).toThrow(RangeError);
    expect(() => funnelDropOffs(journeys, query, 3, 10)).toThrow(RangeError);
  });
});
