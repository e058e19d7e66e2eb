import { decide, DomainError, evolve, fold, initialState, OrderCommand } from '../domain/decider';
import { OrderEvent } from '../domain/events';
import { OrderLine, OrderState } from '../domain/state';
import { EventMetadata, RecordedEvent } from '../ports/eventStore';
import { DecidedCommit, OrderService, toDomainEvent } from './orderService';

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

const refusedMessage = (orderId: string, command: OrderCommand, err: DomainError) =>
  `order ${orderId}: ${command.type} refused (${err.kind}): ${err.message}`;

/**
 * Where an order's plan resumes against its stream: its stored state and version, the index of the first
 * command not yet recorded (`from`), and a result whose outcome is `differs` or `alreadyPresent` when nothing
 * is to be sent. A new order costs one head read; only a stored one is read whole.
 */
async function resumeOf(
  orders: Pick<OrderService, 'current' | 'load'>,
  orderId: string,
  commands: OrderCommand[],
): Promise<{ result: ReplayResult; from: number; state: OrderState; version: number }> {
  const head = await orders.current(orderId);
  const loaded =
    head.version === 0 ? { state: head.state, version: 0, events: [] } : await orders.load(orderId);
  const result: ReplayResult = {
    outcome: 'imported',
    storedVersion: loaded.version,
    commandsSent: 0,
    eventsAppended: 0,
    refused: [],
  };
  const resume = { result, from: 0, state: loaded.state, version: loaded.version };
  if (loaded.version === 0) return resume;
  const recorded = recordedPrefix(commands, loaded.events);
  if (recorded === undefined) result.outcome = 'differs';
  else if (recorded === commands.length) result.outcome = 'alreadyPresent';
  else resume.from = recorded;
  return resume;
}

/**
 * Replays `commands` on order `orderId` idempotently: for a stream that exists, the commands are run through
 * the decider in memory and compared with the stored events (`recordedPrefix`); only those after the stored
 * prefix are sent (none for a complete order). This matters because AddProduct is additive and lifecycle
 * commands are idempotent only in their target state. A stream that disagrees is left as it is (`differs`).
 */
export async function replayHistory(
  orders: Pick<OrderService, 'current' | 'load' | 'handle'>,
  orderId: string,
  commands: OrderCommand[],
  metadata: EventMetadata,
): Promise<ReplayResult> {
  const { result, from } = await resumeOf(orders, orderId, commands);
  if (result.outcome !== 'imported') return result;
  for (const command of commands.slice(from)) {
    try {
      const handled = await orders.handle(orderId, command, { metadata });
      result.eventsAppended += handled.appended.length;
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      result.refused.push(refusedMessage(orderId, command, err));
    }
    result.commandsSent++;
  }
  return result;
}

/** One order's history for `replayHistories`: its commands and the metadata their events carry. */
export interface HistoryToReplay {
  orderId: string;
  commands: OrderCommand[];
  metadata: EventMetadata;
}

/**
 * `replayHistory` for many orders with one group commit (`OrderService.appendDecided`, one transaction on
 * SQLite) instead of one transaction per command. Each order is read (its head, and `load` when it exists) and
 * compared with its plan as `replayHistory` does (`alreadyPresent`, `differs`, or the commands after the stored
 * prefix); those commands
 * are decided in memory from the stored state, each command's events one commit with its own metadata, and a
 * command the decider refuses is reported and records nothing, as `handle` would. An order whose commit is
 * refused for its version (another writer got there meanwhile) is replayed again alone through `replayHistory`
 * (which re-reads it and goes through `handle` with its conflict retries), so the results are those of
 * replaying every order one after the other.
 * @returns one result per entry of `histories`, in order
 * @throws what `OrderService.appendDecided` and `replayHistory` throw (nothing is refused silently)
 */
export async function replayHistories(
  orders: Pick<OrderService, 'current' | 'load' | 'handle' | 'appendDecided'>,
  histories: HistoryToReplay[],
): Promise<ReplayResult[]> {
  const results: ReplayResult[] = [];
  const commits: DecidedCommit[] = [];
  /** Per commit: which history, and the index of the command that produced it. */
  const origin: { h: number; command: number }[] = [];
  /** Per history: the refusals of the decider, with the index of the refused command. */
  const refusals: { command: number; message: string }[][] = [];
  /** Per history: the index of its first command not yet recorded. */
  const starts: number[] = [];
  for (const [h, { orderId, commands, metadata }] of histories.entries()) {
    const resume = await resumeOf(orders, orderId, commands);
    let { state, version } = resume;
    results.push(resume.result);
    refusals.push([]);
    starts.push(resume.from);
    if (resume.result.outcome !== 'imported') continue;
    for (let k = resume.from; k < commands.length; k++) {
      let events;
      try {
        events = decide(commands[k], state);
      } catch (err) {
        if (!(err instanceof DomainError)) throw err;
        refusals[h].push({ command: k, message: refusedMessage(orderId, commands[k], err) });
        continue;
      }
      if (events.length === 0) continue;
      state = fold(events, state);
      commits.push({ orderId, expectedVersion: version, events, state, metadata });
      origin.push({ h, command: k });
      version += events.length;
    }
  }

  const outcomes = commits.length ? await orders.appendDecided(commits) : [];
  /** Per history whose commit was refused for its version: the index of its first command not written. */
  const conflicted = new Map<number, number>();
  outcomes.forEach((outcome, c) => {
    // An order's commits come back in order, and once one is refused so are the rest: the first refused one
    // marks where the order stops.
    const { h, command } = origin[c];
    if (outcome.ok) results[h].eventsAppended += commits[c].events.length;
    else if (!conflicted.has(h)) conflicted.set(h, command);
  });
  for (const [h, { orderId, commands, metadata }] of histories.entries()) {
    const result = results[h];
    if (result.outcome !== 'imported') continue;
    const stop = conflicted.get(h) ?? commands.length;
    result.commandsSent = stop - starts[h];
    result.refused = refusals[h].filter((r) => r.command < stop).map((r) => r.message);
    if (!conflicted.has(h)) continue;
    const again = await replayHistory(orders, orderId, commands, metadata);
    if (result.eventsAppended === 0) {
      // Nothing of it was written here (the same order twice in a batch, another writer first): as if alone.
      results[h] = again;
      continue;
    }
    result.commandsSent += again.commandsSent;
    result.eventsAppended += again.eventsAppended;
    result.refused.push(...again.refused);
    if (again.outcome === 'differs') result.outcome = 'differs';
  }
  return results;
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
