import { describe, expect, it } from 'vitest';
import { fold, orderTotal } from '../../src/domain/decider';
import { OrderEvent } from '../../src/domain/events';
import { given } from '../support/deciderSpec';

const at = '2026-01-02T10:00:00.000Z';
const created: OrderEvent = { type: 'OrderCreated', data: { customerId: 'c-1' }, occurredAt: at };
const line = { productId: 'p-1', quantity: 2, unitPrice: '10.50', currency: 'BRL' };
const added: OrderEvent = { type: 'ProductAddedToOrder', data: line, occurredAt: at };
const submitted: OrderEvent = {
  type: 'OrderSubmitted',
  data: { total: '21.00', currency: 'BRL', lineCount: 1 },
  occurredAt: at,
};
const accepted: OrderEvent = { type: 'OrderAccepted', data: {}, occurredAt: at };
const shipped: OrderEvent = { type: 'OrderShipped', data: {}, occurredAt: at };

describe('creating an order', () => {
  it('records OrderCreated with the referral code when one is given', () =>
    given()
      .when({ type: 'CreateOrder', customerId: 'c-1', referralCode: 'r-9', occurredAt: at })
      .then({ type: 'OrderCreated', data: { customerId: 'c-1', referralCode: 'r-9' }, occurredAt: at }));

  it('answers a repeat with the same data without a new event', () =>
    given(created).when({ type: 'CreateOrder', customerId: 'c-1', occurredAt: at }).thenNothing());

  it('refuses the same order id for another customer', () =>
    given(created).when({ type: 'CreateOrder', customerId: 'c-2', occurredAt: at }).thenRefused('conflict'));
});

describe('order lines', () => {
  it('refuses lines on an order that does not exist', () =>
    given().when({ type: 'AddProduct', line, occurredAt: at }).thenRefused('not-found'));

  it('adds a line to a draft order', () =>
    given(created).when({ type: 'AddProduct', line, occurredAt: at }).then(added));

  it('keeps one currency per order', () =>
    given(created, added)
      .when({ type: 'AddProduct', line: { ...line, productId: 'p-2', currency: 'USD' }, occurredAt: at })
      .thenRefused('invalid', /one currency/));

  it('refuses the same product at another unit price', () =>
    given(created, added)
      .when({ type: 'AddProduct', line: { ...line, unitPrice: '11.00' }, occurredAt: at })
      .thenRefused('invalid'));

  it('caps the units of a line, added up over repeated adds', () =>
    given(created, { ...added, data: { ...line, quantity: 999_999 } } as OrderEvent)
      .when({ type: 'AddProduct', line: { ...line, quantity: 2 }, occurredAt: at })
      .thenRefused('invalid', /at most 1000000 units/));

  it('holds at most 50 lines, while more units of a product already on it are fine', () => {
    const lines = Array.from(
      { length: 50 },
      (_, k): OrderEvent => ({ ...added, data: { ...line, productId: `p-${k}` } }) as OrderEvent,
    );
    given(created, ...lines)
      .when({ type: 'AddProduct', line: { ...line, productId: 'p-new' }, occurredAt: at })
      .thenRefused('invalid', /at most 50 lines/);
    // History records the source's order whatever its size (imported orders start no acceptance fan-out).
    given(created, ...lines)
      .when({ type: 'AddProduct', line: { ...line, productId: 'p-new' }, occurredAt: at, history: true })
      .then({ type: 'ProductAddedToOrder', data: { ...line, productId: 'p-new' }, occurredAt: at });
    given(created, ...lines)
      .when({ type: 'AddProduct', line: { ...line, productId: 'p-7' }, occurredAt: at })
      .then({ type: 'ProductAddedToOrder', data: { ...line, productId: 'p-7' }, occurredAt: at });
  });

  it('keeps an order total below 10^15 in its currency', () =>
    given(created)
      .when({
        type: 'AddProduct',
        line: { ...line, quantity: 2, unitPrice: '500000000000000.00' },
        occurredAt: at,
      })
      .thenRefused('invalid', /order total stays below/));

  it('adds up quantities of the same product', () => {
    const state = fold([created, added, added]);
    expect(state.lines).toEqual([{ ...line, quantity: 4 }]);
    expect(orderTotal(state)).toBe('42.00');
  });

  it('refuses line changes after submit', () =>
    given(created, added, submitted)
      .when({ type: 'AddProduct', line, occurredAt: at })
      .thenRefused('conflict'));

  it('removes a line, and answers removing an absent product without an event', () => {
    given(created, added)
      .when({ type: 'RemoveProduct', productId: 'p-1', occurredAt: at })
      .then({ type: 'ProductRemovedFromOrder', data: { productId: 'p-1' }, occurredAt: at });
    given(created, added).when({ type: 'RemoveProduct', productId: 'p-x', occurredAt: at }).thenNothing();
  });

  it('forgets the currency once the last line is removed', () => {
    const removed: OrderEvent = {
      type: 'ProductRemovedFromOrder',
      data: { productId: 'p-1' },
      occurredAt: at,
    };
    given(created, added, removed)
      .when({ type: 'AddProduct', line: { ...line, currency: 'USD' }, occurredAt: at })
      .then({ type: 'ProductAddedToOrder', data: { ...line, currency: 'USD' }, occurredAt: at });
  });
});

describe('submitting', () => {
  it('records the total and line count', () =>
    given(created, added).when({ type: 'SubmitOrder', occurredAt: at }).then(submitted));

  it('refuses to submit an empty order', () =>
    given(created).when({ type: 'SubmitOrder', occurredAt: at }).thenRefused('conflict', /empty/));

  it('records an empty submit when it replays history from a source system', () =>
    given(created)
      .when({ type: 'SubmitOrder', occurredAt: at, history: true })
      .then({
        type: 'OrderSubmitted',
        data: { total: '0.00', currency: undefined, lineCount: 0 },
        occurredAt: at,
      }));

  it('answers a second submit without an event', () =>
    given(created, added, submitted).when({ type: 'SubmitOrder', occurredAt: at }).thenNothing());
});

describe('cancelling', () => {
  const cancel = { type: 'CancelOrder' as const, reason: 'changed my mind', occurredAt: at };

  it('is allowed until the order ships', () => {
    const event: OrderEvent = { type: 'OrderCancelled', data: { reason: 'changed my mind' }, occurredAt: at };
    given(created).when(cancel).then(event);
    given(created, added, submitted).when(cancel).then(event);
    given(created, added, submitted, accepted).when(cancel).then(event);
  });

  it('is refused once shipped', () =>
    given(created, added, submitted, accepted, shipped).when(cancel).thenRefused('conflict'));

  it('answers a repeat without an event', () =>
    given(created, { type: 'OrderCancelled', data: { reason: 'x' }, occurredAt: at })
      .when(cancel)
      .thenNothing());
});

describe('acceptance and delivery', () => {
  it('accepts only a submitted order', () => {
    given(created, added).when({ type: 'AcceptOrder', occurredAt: at }).thenRefused('conflict');
    given(created, added, submitted).when({ type: 'AcceptOrder', occurredAt: at }).then(accepted);
  });

  it('ships only an accepted order, unless history says otherwise', () => {
    given(created, added, submitted).when({ type: 'ShipOrder', occurredAt: at }).thenRefused('conflict');
    given(created, added, submitted).when({ type: 'ShipOrder', occurredAt: at, history: true }).then(shipped);
  });

  it('delivers only a shipped order', () => {
    given(created, added, submitted, accepted)
      .when({ type: 'DeliverOrder', occurredAt: at })
      .thenRefused('conflict');
    given(created, added, submitted, accepted, shipped)
      .when({ type: 'DeliverOrder', occurredAt: at })
      .then({ type: 'OrderDelivered', data: {}, occurredAt: at });
  });
});
