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
  reservations: Record<string, { reservationId: string; quantity: number }>;
}

export const initialState = (): OrderState => ({
  exists: false,
  status: 'draft',
  lines: [],
  reservations: {},
});
