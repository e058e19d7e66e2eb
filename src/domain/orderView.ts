import { orderTotal } from './decider';
import { fromMinorUnits, toMinorUnits } from './money';
import { OrderState, OrderStatus } from './state';

/** An order line as the API shows it; `lineTotal` = unitPrice × quantity as a decimal string. */
export interface OrderLineView {
  productId: string;
  quantity: number;
  unitPrice: string;
  currency: string;
  sellerId?: string;
  lineTotal: string;
}

/** The summary of an order kept in the read model and returned by the list endpoint. */
export interface OrderSummary {
  orderId: string;
  customerId: string;
  status: OrderStatus;
  currency?: string;
  total: string;
  lineCount: number;
  itemCount: number;
  version: number;
  createdAt: string;
  updatedAt: string;
}

/** The full current state of an order as `GET /api/orders/{orderId}` returns it. */
export interface OrderView extends OrderSummary {
  referralCode?: string;
  lines: OrderLineView[];
  submittedAt?: string;
  acceptedAt?: string;
  rejectedAt?: string;
  cancelledAt?: string;
  shippedAt?: string;
  deliveredAt?: string;
  rejectionReason?: string;
  cancellationReason?: string;
}

/** Builds the API view of an order. `updatedAt` is the business time of the last event applied. */
export function toOrderView(
  orderId: string,
  state: OrderState,
  version: number,
  updatedAt: string,
): OrderView {
  const lines = state.lines.map((l) => ({
    ...l,
    lineTotal: fromMinorUnits(toMinorUnits(l.unitPrice, l.currency) * BigInt(l.quantity), l.currency),
  }));
  const optional = {
    referralCode: state.referralCode,
    currency: state.currency,
    submittedAt: state.submittedAt,
    acceptedAt: state.acceptedAt,
    rejectedAt: state.rejectedAt,
    cancelledAt: state.cancelledAt,
    shippedAt: state.shippedAt,
    deliveredAt: state.deliveredAt,
    rejectionReason: state.rejectionReason,
    cancellationReason: state.cancellationReason,
  };
  const defined = Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined));
  return {
    orderId,
    customerId: state.customerId ?? '',
    status: state.status,
    ...defined,
    total: orderTotal(state),
    lineCount: lines.length,
    itemCount: lines.reduce((n, l) => n + l.quantity, 0),
    version,
    createdAt: state.createdAt ?? updatedAt,
    updatedAt,
    lines,
  };
}

const summaryKeys = [
  'orderId',
  'customerId',
  'status',
  'currency',
  'total',
  'lineCount',
  'itemCount',
  'version',
  'createdAt',
  'updatedAt',
] as const satisfies readonly (keyof OrderSummary)[];

/** The read-model summary of an order view: its summary fields only. */
export function toSummary(view: OrderView): OrderSummary {
  return Object.fromEntries(summaryKeys.map((k) => [k, view[k]])) as unknown as OrderSummary;
}
