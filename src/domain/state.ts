import { EventData } from './events';

export const orderStatuses = [
  'draft',
  'submitted',
  'accepted',
  'rejected',
  'cancelled',
  'shipped',
  'delivered',
] as const;
export type OrderStatus = (typeof orderStatuses)[number];

export type OrderLine = EventData<'ProductAddedToOrder'>;

/** The state of one order, folded from its events by `evolve`. Amounts are canonical decimal strings. */
export interface OrderState {
  exists: boolean;
  customerId?: string;
  referralCode?: string;
  status: OrderStatus;
  currency?: string;
  lines: OrderLine[];
  createdAt?: string;
  submittedAt?: string;
  acceptedAt?: string;
  rejectedAt?: string;
  cancelledAt?: string;
  shippedAt?: string;
  deliveredAt?: string;
  rejectionReason?: string;
  cancellationReason?: string;
  /** Stock held for the order, by product id: read it through the functions below, never `reservations[id]`. */
  reservations: Reservations;
}

export interface HeldReservation {
  reservationId: string;
  quantity: number;
}

/**
 * Reservations by product id. The keys are user-supplied product ids, so this is a null-prototype object:
 * `constructor`, `toString` or `__proto__` are valid product ids, and on a `{}` they would name (or, for
 * `__proto__`, replace) the prototype instead of a reservation (issue 9). Not a Map, because the state is
 * stored as JSON in the read model (SQLite and Cosmos DB), whose shape `{productId: {reservationId,
 * quantity}}` stays as it was. A state read back from JSON has a prototype again: {@link reviveState}
 * restores the null prototype, and {@link heldReservation} reads own properties only in any case.
 */
export type Reservations = Readonly<Record<string, HeldReservation>>;

/** A null-prototype object with exactly the given own entries (assignment on it never reaches a setter). */
function reservationsOf(entries: Iterable<[string, HeldReservation]>): Reservations {
  const out = Object.create(null) as Record<string, HeldReservation>;
  for (const [productId, r] of entries)
    out[productId] = { reservationId: r.reservationId, quantity: r.quantity };
  return out;
}

/** The reservation the order holds for a product, from own properties only. */
export const heldReservation = (state: OrderState, productId: string): HeldReservation | undefined =>
  Object.hasOwn(state.reservations, productId) ? state.reservations[productId] : undefined;

/** The products the order holds stock for (own keys only). */
export const reservedProducts = (state: OrderState): string[] => Object.keys(state.reservations);

/** The reservations with one more (or a replaced) product. */
export const withReservation = (
  reservations: Reservations,
  productId: string,
  r: HeldReservation,
): Reservations => reservationsOf([...Object.entries(reservations), [productId, r]]);

/** The reservations without the product. */
export const withoutReservation = (reservations: Reservations, productId: string): Reservations =>
  reservationsOf(Object.entries(reservations).filter(([p]) => p !== productId));

export const initialState = (): OrderState => ({
  exists: false,
  status: 'draft',
  lines: [],
  reservations: reservationsOf([]),
});

/**
 * A state read back from JSON (the read model stores it so): the reservations as a null-prototype object
 * of their own entries. JSON.parse makes a `"__proto__"` key an own property, so nothing is lost.
 */
export function reviveState(stored: OrderState): OrderState {
  const reservations =
    stored.reservations && typeof stored.reservations === 'object' ? Object.entries(stored.reservations) : [];
  return { ...stored, reservations: reservationsOf(reservations) };
}
