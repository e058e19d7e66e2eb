import { decide, DomainError, evolve, initialState, OrderCommand } from '../domain/decider';
import { OrderEvent } from '../domain/events';
import { OrderLine } from '../domain/state';
import { EventMetadata, RecordedEvent } from '../ports/eventStore';
import { OrderService, toDomainEvent } from './orderService';

/**
 * Imported history, whatever its source (the Olist and Online Retail imports in src/import, the bulk import
 * route `POST /api/import/orders`): an order's lifecycle with its business times becomes the commands that
 * replay it, marked `history: true`, and is replayed idempotently against the store.
 */

/** What an imported order's history can contradict; the labels are the import summary's wording. */
export const historyAnomalyLabels = {
  deliveredWithoutApproval:
    'delivered without an approval time (shipped from submitted; no acceptance invented)',
  shippedWithoutApproval: 'shipped without an approval time (shipped from submitted; no acceptance invented)',
  approvalBeforePurchase: 'approved before the purchase',
  carrierBeforePurchase: 'handed to the carrier before the purchase',
  carrierBeforeApproval: 'handed to the carrier before approval',
  deliveredBeforeCarrier: 'delivered to the customer before handed to the carrier',
  cancelledAfterCarrier: 'cancelled after reaching the carrier',
  cancelledAfterDelivery: 'cancelled after delivery to the customer (not recorded as delivered)',
  withoutItems: 'orders without items (submitted empty)',
} as const;

export type HistoryAnomaly = keyof typeof historyAnomalyLabels;

/** One order's history: UTC ISO 8601 business times; a step without a time did not happen. */
export interface OrderHistory {
  orderId: string;
  customerId: string;
  customerState?: string;
  referralCode?: string;
  createdAt: string;
  /** Added at `createdAt`, in this order. */
  lines: OrderLine[];
  submittedAt?: string;
  acceptedAt?: string;
  rejected?: { at: string; reason: string };
  shippedAt?: string;
  /** Not recorded when the order was also cancelled (`cancelledAfterDelivery`). */
  deliveredAt?: string;
  cancelled?: { at: string; reason: string };
}

/** The anomalies of times out of order: each pair is checked only when both times are known. */
export function timeOrderAnomalies(t: {
  created: string;
  accepted?: string;
  shipped?: string;
  delivered?: string;
}): HistoryAnomaly[] {
  const out: HistoryAnomaly[] = [];
  if (t.accepted && t.accepted < t.created) out.push('approvalBeforePurchase');
  if (t.shipped && t.shipped < t.created) out.push('carrierBeforePurchase');
  if (t.accepted && t.shipped && t.shipped < t.accepted) out.push('carrierBeforeApproval');
  if (t.shipped && t.delivered && t.delivered < t.shipped) out.push('deliveredBeforeCarrier');
  return out;
}

/**
 * The commands that replay `h`, in lifecycle order, each at its business time and marked `history: true`
 * (the source records facts a live rule would refuse: an empty order submitted, shipping without acceptance,
 * cancelling after shipping): CreateOrder and one AddProduct per line at `createdAt`, then SubmitOrder,
 * AcceptOrder, RejectOrder, ShipOrder, DeliverOrder (unless cancelled), CancelOrder where `h` has them. With
 * the anomalies of the lifecycle itself (not of the times: see `timeOrderAnomalies`).
 */
export function historyCommands(h: OrderHistory): { commands: OrderCommand[]; anomalies: HistoryAnomaly[] } {
  const anomalies: HistoryAnomaly[] = [];
  const commands: OrderCommand[] = [
    {
      type: 'CreateOrder',
      customerId: h.customerId,
      ...(h.customerState ? { customerState: h.customerState } : {}),
      ...(h.referralCode ? { referralCode: h.referralCode } : {}),
      occurredAt: h.createdAt,
      history: true,
    },
  ];
  for (const line of h.lines)
    commands.push({ type: 'AddProduct', line, occurredAt: h.createdAt, history: true });
  if (h.submittedAt === undefined) return { commands, anomalies };
  if (h.lines.length === 0) anomalies.push('withoutItems');
  commands.push({ type: 'SubmitOrder', occurredAt: h.submittedAt, history: true });
  if (h.acceptedAt) commands.push({ type: 'AcceptOrder', occurredAt: h.acceptedAt, history: true });
  if (h.rejected)
    commands.push({
      type: 'RejectOrder',
      reason: h.rejected.reason,
      occurredAt: h.rejected.at,
      history: true,
    });
  if (h.shippedAt) {
    if (!h.acceptedAt && !h.cancelled)
      anomalies.push(h.deliveredAt ? 'deliveredWithoutApproval' : 'shippedWithoutApproval');
    commands.push({ type: 'ShipOrder', occurredAt: h.shippedAt, history: true });
  }
  if (h.cancelled) {
    if (h.shippedAt) anomalies.push('cancelledAfterCarrier');
    if (h.deliveredAt) anomalies.push('cancelledAfterDelivery');
    commands.push({
      type: 'CancelOrder',
      reason: h.cancelled.reason,
      occurredAt: h.cancelled.at,
      history: true,
    });
  } else if (h.deliveredAt) {
    commands.push({ type: 'DeliverOrder', occurredAt: h.deliveredAt, history: true });
  }
  return { commands, anomalies };
}

/** What replaying one order's commands did. */
export interface ReplayResult {
  /** `imported`: commands were sent; `alreadyPresent`: the stream held them all; `differs`: left as it is. */
  outcome: 'imported' | 'alreadyPresent' | 'differs';
  /** The stream's version before the replay. */
  storedVersion: number;
  commandsSent: number;
  eventsAppended: number;
  /** The messages of commands the decider refused (recorded nothing; the rest was still sent). */
  refused: string[];
}

/**
 * Replays `commands` on order `orderId` idempotently: for a stream that exists, the commands are run through
 * the decider in memory and compared with the stored events (`recordedPrefix`); only those after the stored
 * prefix are sent (none for a complete order). This matters because AddProduct is additive and lifecycle
 * commands are idempotent only in their target state. A stream that disagrees is left as it is (`differs`).
 */
export async function replayHistory(
  orders: Pick<OrderService, 'load' | 'handle'>,
  orderId: string,
  commands: OrderCommand[],
  metadata: EventMetadata,
): Promise<ReplayResult> {
  const loaded = await orders.load(orderId);
  const result: ReplayResult = {
    outcome: 'imported',
    storedVersion: loaded.version,
    commandsSent: 0,
    eventsAppended: 0,
    refused: [],
  };
  let from = 0;
  if (loaded.version > 0) {
    const recorded = recordedPrefix(commands, loaded.events);
    if (recorded === undefined) return { ...result, outcome: 'differs' };
    from = recorded;
    if (from === commands.length) return { ...result, outcome: 'alreadyPresent' };
  }
  for (const command of commands.slice(from)) {
    try {
      const handled = await orders.handle(orderId, command, { metadata });
      result.eventsAppended += handled.appended.length;
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      result.refused.push(`order ${orderId}: ${command.type} refused (${err.kind}): ${err.message}`);
    }
    result.commandsSent++;
  }
  return result;
}

/**
 * How many of `commands` the stored events already record: the plan is run through the decider from the
 * initial state and each command's events are compared with the stored ones at the same versions. Returns
 * the index of the first command not yet recorded (commands.length when all are), or undefined when the
 * stored events differ from what the commands produce.
 */
export function recordedPrefix(commands: OrderCommand[], stored: RecordedEvent[]): number | undefined {
  let state = initialState();
  let version = 0;
  for (let k = 0; k < commands.length; k++) {
    if (version >= stored.length) return k;
    let events;
    try {
      events = decide(commands[k], state);
    } catch (err) {
      if (err instanceof DomainError) continue; // refused then as now: it recorded nothing
      throw err;
    }
    for (const event of events) {
      const have = stored[version];
      if (!have) return undefined; // the stream ends inside this command's commit
      const was = toDomainEvent(have);
      if (was.type !== event.type || was.occurredAt !== event.occurredAt) return undefined;
      if (JSON.stringify(was.data) !== JSON.stringify(withoutNewFields(was, event).data)) return undefined;
      state = evolve(state, event);
      version++;
    }
  }
  return commands.length;
}

/**
 * The planned event without the fields a store imported before they existed cannot have: an OrderCreated
 * stored without `customerState` (imported before the import read olist_customers_dataset.csv) still records
 * the order; events are never rewritten, so the stored one stays as it is.
 */
function withoutNewFields(stored: OrderEvent, planned: OrderEvent): OrderEvent {
  if (planned.type !== 'OrderCreated' || stored.type !== 'OrderCreated') return planned;
  if (stored.data.customerState !== undefined || planned.data.customerState === undefined) return planned;
  const { customerState: _absentWhenStored, ...data } = planned.data;
  return { ...planned, data };
}
