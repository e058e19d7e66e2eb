import { fromMinorUnits, minorDigits, toMinorUnits } from './money';
import { OrderEvent } from './events';
import {
  heldReservation,
  initialState,
  OrderLine,
  OrderState,
  withoutReservation,
  withReservation,
} from './state';

export { initialState };

/**
 * Commands the decider accepts. `occurredAt` is the business time the resulting events carry (ISO 8601).
 * `history: true` marks a fact replayed from a source system (the Olist import): the decider records it
 * even where a rule that guards a live decision would refuse it (submit of an empty order, ship without
 * acceptance, cancel after shipping); the importer reports every such case as an anomaly.
 */
export type OrderCommand = { occurredAt: string; history?: boolean } & (
  | { type: 'CreateOrder'; customerId: string; referralCode?: string; customerState?: string }
  | { type: 'AddProduct'; line: OrderLine }
  | { type: 'RemoveProduct'; productId: string }
  | { type: 'SubmitOrder' }
  | { type: 'ReserveStock'; productId: string; quantity: number; reservationId: string }
  | { type: 'RecordReservationFailure'; productId: string; quantity: number; reason: string }
  | { type: 'ReleaseStock'; productId: string }
  | { type: 'AcceptOrder'; approvedBy?: string }
  | { type: 'RejectOrder'; reason: string }
  | { type: 'CancelOrder'; reason: string }
  | { type: 'ShipOrder' }
  | { type: 'DeliverOrder' }
);

/**
 * Why a command was refused. `kind` maps to HTTP: not-found 404, conflict 409 (the order's state forbids
 * it), invalid 422 (the command contradicts the order's data). `field` names the offending input.
 */
export class DomainError extends Error {
  constructor(
    readonly kind: 'not-found' | 'conflict' | 'invalid',
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

const conflict = (message: string, field?: string) => new DomainError('conflict', message, field);

/** Most units of one product on one order. */
export const maxLineQuantity = 1_000_000;
/**
 * Most lines (distinct products) on one live order (history is exempt: 192 UCI Online Retail invoices have
 * more, up to 259, and an imported order starts no acceptance). Acceptance reserves every line in parallel, each an
 * activity appending to the order's stream; beyond a few dozen lines that fan-out costs more than an
 * order is worth (the largest Olist order has 21 items).
 */
export const maxLines = 50;
/** Exclusive upper bound of an order total, in major units of its currency (15 integer digits). */
export const maxOrderTotal = 10n ** 15n;

/** Order total in minor units of its currency (0 for an empty order). */
export function orderTotal(state: OrderState): string {
  if (!state.currency) return '0.00';
  const currency = state.currency;
  const sum = state.lines.reduce(
    (acc, l) => acc + toMinorUnits(l.unitPrice, currency) * BigInt(l.quantity),
    0n,
  );
  return fromMinorUnits(sum, currency);
}

function requireExists(state: OrderState): void {
  if (!state.exists) throw new DomainError('not-found', 'order does not exist');
}

function requireDraft(state: OrderState, what: string): void {
  if (state.status !== 'draft') throw conflict(`${what} is not allowed once the order is ${state.status}`);
}

/**
 * Decides which events a command produces against the current state. Pure: no I/O, no clock.
 * Returns an empty array when the command would change nothing (an idempotent repeat).
 * @throws DomainError when a rule refuses the command.
 */
export function decide(command: OrderCommand, state: OrderState): OrderEvent[] {
  const at = command.occurredAt;
  const history = command.history === true;
  if (command.type === 'CreateOrder') {
    if (state.exists) {
      if (state.customerId === command.customerId && state.referralCode === command.referralCode) return [];
      throw conflict('an order with this id already exists for other data', 'orderId');
    }
    const data = {
      customerId: command.customerId,
      ...(command.referralCode ? { referralCode: command.referralCode } : {}),
      ...(command.customerState ? { customerState: command.customerState } : {}),
    };
    return [{ type: 'OrderCreated', data, occurredAt: at }];
  }
  requireExists(state);
  switch (command.type) {
    case 'AddProduct': {
      requireDraft(state, 'changing lines');
      const line = command.line;
      if (state.currency && state.currency !== line.currency) {
        throw new DomainError(
          'invalid',
          `this order is in ${state.currency}; one currency per order`,
          'currency',
        );
      }
      const existing = state.lines.find((l) => l.productId === line.productId);
      // Not for history: the cap guards the acceptance fan-out, which imported orders do not start.
      if (!existing && state.lines.length >= maxLines && !history) {
        throw new DomainError('invalid', `an order holds at most ${maxLines} lines`, 'productId');
      }
      if ((existing?.quantity ?? 0) + line.quantity > maxLineQuantity) {
        throw new DomainError('invalid', `a line holds at most ${maxLineQuantity} units`, 'quantity');
      }
      const total =
        toMinorUnits(orderTotal(state), line.currency) +
        toMinorUnits(line.unitPrice, line.currency) * BigInt(line.quantity);
      if (total >= maxOrderTotal * 10n ** BigInt(minorDigits(line.currency))) {
        throw new DomainError(
          'invalid',
          `an order total stays below ${maxOrderTotal} ${line.currency}`,
          'unitPrice',
        );
      }
      if (existing && (existing.unitPrice !== line.unitPrice || existing.sellerId !== line.sellerId)) {
        throw new DomainError(
          'invalid',
          'the order already has this product at another unit price or seller; remove it first',
          'unitPrice',
        );
      }
      // The event's data is built field by field: only these fields, each the command's own value.
      const data: OrderLine = {
        productId: line.productId,
        quantity: line.quantity,
        unitPrice: line.unitPrice,
        currency: line.currency,
        ...(line.sellerId !== undefined ? { sellerId: line.sellerId } : {}),
      };
      return [{ type: 'ProductAddedToOrder', data, occurredAt: at }];
    }
    case 'RemoveProduct':
      requireDraft(state, 'changing lines');
      if (!state.lines.some((l) => l.productId === command.productId)) return [];
      return [{ type: 'ProductRemovedFromOrder', data: { productId: command.productId }, occurredAt: at }];
    case 'SubmitOrder':
      if (state.status === 'submitted') return [];
      requireDraft(state, 'submitting');
      if (state.lines.length === 0 && !history) throw conflict('an empty order cannot be submitted', 'items');
      return [
        {
          type: 'OrderSubmitted',
          data: { total: orderTotal(state), currency: state.currency, lineCount: state.lines.length },
          occurredAt: at,
        },
      ];
    case 'ReserveStock':
      if (state.status !== 'submitted') throw conflict(`cannot reserve stock for a ${state.status} order`);
      if (heldReservation(state, command.productId)) return [];
      return [
        {
          type: 'StockReserved',
          data: {
            productId: command.productId,
            quantity: command.quantity,
            reservationId: command.reservationId,
          },
          occurredAt: at,
        },
      ];
    case 'RecordReservationFailure':
      if (state.status !== 'submitted') return [];
      return [
        {
          type: 'StockReservationFailed',
          data: { productId: command.productId, quantity: command.quantity, reason: command.reason },
          occurredAt: at,
        },
      ];
    case 'ReleaseStock': {
      const r = heldReservation(state, command.productId);
      if (!r) return [];
      return [
        {
          type: 'StockReleased',
          data: { productId: command.productId, quantity: r.quantity, reservationId: r.reservationId },
          occurredAt: at,
        },
      ];
    }
    case 'AcceptOrder':
      if (state.status === 'accepted') return [];
      if (state.status !== 'submitted')
        throw conflict(`only a submitted order can be accepted; it is ${state.status}`);
      return [
        {
          type: 'OrderAccepted',
          data: command.approvedBy ? { approvedBy: command.approvedBy } : {},
          occurredAt: at,
        },
      ];
    case 'RejectOrder':
      if (state.status === 'rejected') return [];
      if (state.status !== 'submitted')
        throw conflict(`only a submitted order can be rejected; it is ${state.status}`);
      return [{ type: 'OrderRejected', data: { reason: command.reason }, occurredAt: at }];
    case 'CancelOrder':
      if (state.status === 'cancelled') return [];
      if (
        state.status === 'rejected' ||
        state.status === 'delivered' ||
        (state.status === 'shipped' && !history)
      ) {
        throw conflict(`an order that is ${state.status} can no longer be cancelled`);
      }
      return [{ type: 'OrderCancelled', data: { reason: command.reason }, occurredAt: at }];
    case 'ShipOrder':
      if (state.status === 'shipped') return [];
      if (state.status !== 'accepted' && !(history && state.status === 'submitted')) {
        throw conflict(`only an accepted order can be shipped; it is ${state.status}`);
      }
      return [{ type: 'OrderShipped', data: {}, occurredAt: at }];
    case 'DeliverOrder':
      if (state.status === 'delivered') return [];
      if (state.status !== 'shipped')
        throw conflict(`only a shipped order can be delivered; it is ${state.status}`);
      return [{ type: 'OrderDelivered', data: {}, occurredAt: at }];
  }
}

function mergeLine(lines: OrderLine[], line: OrderLine): OrderLine[] {
  const existing = lines.find((l) => l.productId === line.productId);
  if (!existing) return [...lines, line];
  return lines.map((l) => (l === existing ? { ...l, quantity: l.quantity + line.quantity } : l));
}

/** Applies one event to the state. Total: events are facts, so evolve never refuses one. */
export function evolve(state: OrderState, event: OrderEvent): OrderState {
  const at = event.occurredAt;
  switch (event.type) {
    case 'OrderCreated':
    case 'OrderCreatedBasedOnAReferral':
      return {
        ...state,
        exists: true,
        customerId: event.data.customerId,
        referralCode: event.data.referralCode,
        status: 'draft',
        createdAt: at,
      };
    case 'ProductAddedToOrder':
      return {
        ...state,
        currency: state.currency ?? event.data.currency,
        lines: mergeLine(state.lines, event.data),
      };
    case 'ProductRemovedFromOrder': {
      const lines = state.lines.filter((l) => l.productId !== event.data.productId);
      return { ...state, lines, currency: lines.length ? state.currency : undefined };
    }
    case 'OrderSubmitted':
      return { ...state, status: 'submitted', submittedAt: at };
    case 'StockReserved':
      return {
        ...state,
        reservations: withReservation(state.reservations, event.data.productId, {
          reservationId: event.data.reservationId,
          quantity: event.data.quantity,
        }),
      };
    case 'StockReleased':
      return { ...state, reservations: withoutReservation(state.reservations, event.data.productId) };
    case 'StockReservationFailed':
      return state;
    case 'OrderAccepted':
      return { ...state, status: 'accepted', acceptedAt: at };
    case 'OrderRejected':
      return { ...state, status: 'rejected', rejectedAt: at, rejectionReason: event.data.reason };
    case 'OrderCancelled':
      return { ...state, status: 'cancelled', cancelledAt: at, cancellationReason: event.data.reason };
    case 'OrderShipped':
      return { ...state, status: 'shipped', shippedAt: at };
    case 'OrderDelivered':
      return { ...state, status: 'delivered', deliveredAt: at };
  }
}

/**
 * The version of the fold: `evolve`, `OrderState` and the upcasters (src/domain/upcasters.ts) as they are.
 * Bump it with any change to what a fold of the same events yields (a new state field, a fixed evolve, an
 * upcaster that now fills a default differently): the snapshots kept in the heads name the version they were
 * folded with (src/app/orderService.ts, `snapshotSchema`), and one of another version is ignored and rebuilt
 * from the events (docs/adr/0015-snapshot-in-the-head.md). A new schema version of an event changes the key
 * by itself.
 */
export const deciderVersion = 1;

/** Folds a sequence of events from the initial state. */
export const fold = (events: Iterable<OrderEvent>, from: OrderState = initialState()): OrderState => {
  let s = from;
  for (const e of events) s = evolve(s, e);
  return s;
};
