import { z } from 'zod';
import { DomainError, maxLineQuantity, maxOrderTotal, orderTotal } from '../domain/decider';
import { toMinorUnits } from '../domain/money';
import { OrderStatus } from '../domain/state';
import { cloudEventId } from './cloudEvents';
import { EventMetadata, RecordedEvent, StoredEventRecord } from '../store/eventStore';
import { StockReservations } from '../store/stockReservations';
import { AcceptanceSettings } from './acceptanceSettings';
import { OrderService } from './orderService';

/**
 * The order-acceptance process: names, shapes and the work of its activities. The orchestration itself
 * (src/functions/orderAcceptance.ts) only sequences these steps; everything that reads settings, stores or
 * clocks happens here, inside activities, whose results the orchestration history keeps.
 */

export const acceptanceOrchestration = 'orderAcceptance';
/** Name of the external event that carries an approval decision. */
export const approvalEvent = 'approval';
/**
 * Name of the external event the stock-release function raises when the order is cancelled while its
 * acceptance runs. A hint, not a fact: the orchestrator checks the order's status before it acts on it.
 */
export const orderCancelledEvent = 'orderCancelled';
export const acceptanceActivities = {
  validate: 'orderAcceptance-validate',
  reserveStock: 'orderAcceptance-reserveStock',
  releaseStock: 'orderAcceptance-releaseStock',
  accept: 'orderAcceptance-accept',
  reject: 'orderAcceptance-reject',
} as const;
/** Who the acceptance's commands name as their actor. */
export const acceptanceActor = 'orchestration:orderAcceptance';
/** Who the stock-release function's commands name as their actor (StockReleased after a cancellation). */
export const stockReleaseActor = 'function:stockRelease';

/** The acceptance instance of an order: one per order, so a second delivery of OrderSubmitted starts nothing. */
export const acceptanceInstanceId = (orderId: string): string => `acceptance-${orderId}`;

/** The orchestration's input, from the starter. */
export interface AcceptanceInput {
  orderId: string;
  /** Correlation id of the OrderSubmitted event, carried into every event the acceptance appends. */
  correlationId?: string;
}

/** Retry policy of reservations, as `RetryOptions` takes it (milliseconds). */
export interface ReservationRetry {
  firstRetryIntervalMs: number;
  maxAttempts: number;
  backoffCoefficient: number;
  maxRetryIntervalMs: number;
  retryTimeoutMs?: number;
}

export interface AcceptanceLine {
  productId: string;
  quantity: number;
}

export type Validation =
  | {
      ok: true;
      orderId: string;
      currency: string;
      total: string;
      lines: AcceptanceLine[];
      /** The total is above APPROVAL_THRESHOLD: a person must approve. */
      needsApproval: boolean;
      approvalThreshold: string;
      approvalTimeoutSeconds: number;
      retry: ReservationRetry;
    }
  | {
      ok: false;
      orderId: string;
      reason: string;
      /** The order is no longer submitted (already decided, or cancelled): nothing to accept or reject. */
      skip: boolean;
      status?: OrderStatus;
    };

/**
 * The body of the `approval` event, as the orchestrator accepts it: the same rules as the body of
 * `POST /api/orders/{id}/approval` (src/http/acceptanceSchemas.ts), because the event can also be raised
 * through the extension's own webhook, which checks nothing but that the body is JSON. `approver` becomes
 * OrderAccepted's `approvedBy` (a string of at most 256 characters in the event catalogue).
 */
export const approvalDecisionSchema = z.strictObject({
  approved: z.boolean(),
  approver: z.string().trim().min(1).max(256),
  comment: z.string().trim().max(1000).optional(),
});

/** The decision of a person, carried by the `approval` event. */
export type ApprovalDecision = z.infer<typeof approvalDecisionSchema>;

/**
 * Reads the payload of an `approval` event. Pure and deterministic, so the orchestrator may call it.
 * @returns the decision (trimmed; an empty comment dropped), or what is wrong with the payload
 */
export function parseApproval(
  payload: unknown,
): { ok: true; decision: ApprovalDecision } | { ok: false; problem: string } {
  const r = approvalDecisionSchema.safeParse(payload);
  if (!r.success) {
    const problem = r.error.issues
      .map((i) => `${i.path.length ? i.path.join('.') : 'payload'}: ${i.message}`)
      .join('; ');
    return { ok: false, problem };
  }
  const { comment, ...rest } = r.data;
  return { ok: true, decision: comment ? { ...rest, comment } : rest };
}

export type AcceptanceStep =
  | 'validating'
  | 'reserving-stock'
  | 'awaiting-approval'
  | 'accepting'
  | 'releasing-stock'
  | 'rejecting'
  | 'accepted'
  | 'rejected'
  | 'cancelled'
  | 'skipped';

/** The orchestration's custom status: the step it is at, for a person following it. */
export interface AcceptanceStatus {
  orderId: string;
  step: AcceptanceStep;
  detail?: string;
  /** ISO 8601 UTC, while awaiting an approval. */
  approvalDeadline?: string;
  total?: string;
  currency?: string;
  /** While awaiting an approval: `approval` events ignored because their payload was malformed. */
  invalidApprovalIgnored?: number;
  /** What was wrong with the last ignored `approval` event. */
  lastInvalidApproval?: string;
  /** While awaiting an approval: `orderCancelled` events ignored because the order was still submitted. */
  cancellationIgnored?: number;
}

/**
 * How an acceptance ended. `cancelled`: the order was cancelled while the acceptance ran (what it had
 * reserved is released); `skipped`: the order was no longer submitted when the acceptance started, or was
 * decided by something else meanwhile.
 */
export type AcceptanceOutcome = 'accepted' | 'rejected' | 'cancelled' | 'skipped';

export interface AcceptanceOutput {
  orderId: string;
  outcome: AcceptanceOutcome;
  reason?: string;
  approvedBy?: string;
  /** Products reserved, and (after a rejection) released again. */
  reserved: string[];
  released: string[];
  /** Products whose reservation could not be released (the release activity failed every attempt). */
  unreleased?: string[];
}

export interface ActivityBase {
  orderId: string;
  correlationId?: string;
  /** The orchestration instance, recorded as the causation id of the events it appends. */
  instanceId: string;
}

export interface AcceptanceDeps {
  orders: OrderService;
  stock: StockReservations;
  settings: AcceptanceSettings;
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

const metadataOf = (input: ActivityBase): EventMetadata => ({
  correlationId: input.correlationId ?? input.orderId,
  causationId: input.instanceId,
  actor: acceptanceActor,
});

/** `a` compared with `b`, both non-negative decimal strings: -1, 0 or 1 (exact, up to 6 fraction digits). */
export function compareDecimal(a: string, b: string): number {
  const scaled = (x: string) => {
    const [int, frac = ''] = x.split('.');
    return BigInt(int) * 10n ** 6n + BigInt(frac.padEnd(6, '0').slice(0, 6) || '0');
  };
  const d = scaled(a) - scaled(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

/**
 * The event starts an acceptance: an OrderSubmitted of a live submission. Submissions replayed from a
 * source system (actor `import:…`, the Olist import) were decided there; acceptance does not run for them.
 */
export const startsAcceptance = (e: Pick<StoredEventRecord, 'type' | 'metadata'>): boolean =>
  e.type === 'OrderSubmitted' && !(e.metadata?.actor ?? '').startsWith('import:');

/** The latest OrderSubmitted of a stream, if any. */
export const lastSubmitted = (events: RecordedEvent[]): RecordedEvent | undefined =>
  [...events].reverse().find((e) => e.type === 'OrderSubmitted');

/**
 * Activity `validate`: the order is submitted, has lines, one currency, every line a whole quantity of 1 to
 * `maxLineQuantity` units at a valid unit price, a total below `maxOrderTotal`, and its total matches what
 * OrderSubmitted recorded. The API refuses such orders already; the check is repeated here for orders
 * written by other writers. A failed check is an answer (`ok: false`), never an exception, so the
 * orchestration rejects the order with the reason. Also hands the orchestration the policy it needs
 * (threshold, timeout, retries), so the orchestrator reads no setting itself.
 * @throws whatever loading the order throws (the store is unavailable, an event of a newer schema)
 */
export async function validateOrder(deps: AcceptanceDeps, input: ActivityBase): Promise<Validation> {
  const { state, events } = await deps.orders.load(input.orderId);
  const fail = (reason: string, skip = false): Validation => ({
    ok: false,
    orderId: input.orderId,
    reason,
    skip,
    status: state.exists ? state.status : undefined,
  });
  if (!state.exists) return fail('the order does not exist', true);
  if (state.status !== 'submitted') return fail(`the order is ${state.status}, not submitted`, true);
  if (state.lines.length === 0) return fail('the order has no lines');
  const currency = state.currency;
  if (!currency) return fail('the order has no currency');
  for (const l of state.lines) {
    if (l.currency !== currency)
      return fail(`line ${l.productId} is in ${l.currency}, the order in ${currency}`);
    if (!Number.isInteger(l.quantity) || l.quantity < 1 || l.quantity > maxLineQuantity) {
      return fail(
        `line ${l.productId} has quantity ${l.quantity}; a line holds 1 to ${maxLineQuantity} units`,
      );
    }
    try {
      toMinorUnits(l.unitPrice, currency);
    } catch (err) {
      return fail(`line ${l.productId} has an invalid unit price: ${messageOf(err)}`);
    }
  }
  const total = orderTotal(state);
  if (compareDecimal(total, maxOrderTotal.toString()) >= 0) {
    return fail(
      `the order total ${total} ${currency} is not below the limit of ${maxOrderTotal} ${currency}`,
    );
  }
  const submitted = lastSubmitted(events)?.data as { total?: string; currency?: string } | undefined;
  if (submitted?.total !== undefined) {
    let recorded: bigint;
    try {
      recorded = toMinorUnits(String(submitted.total), currency);
    } catch (err) {
      return fail(`the submitted total is not a valid amount: ${messageOf(err)}`);
    }
    if (recorded !== toMinorUnits(total, currency)) {
      return fail(
        `the total of the lines (${total} ${currency}) differs from the submitted total (${submitted.total})`,
      );
    }
  }
  const s = deps.settings;
  return {
    ok: true,
    orderId: input.orderId,
    currency,
    total,
    lines: state.lines.map((l) => ({ productId: l.productId, quantity: l.quantity })),
    needsApproval: compareDecimal(total, s.APPROVAL_THRESHOLD) > 0,
    approvalThreshold: s.APPROVAL_THRESHOLD,
    approvalTimeoutSeconds: s.APPROVAL_TIMEOUT_SECONDS,
    retry: {
      firstRetryIntervalMs: s.RESERVATION_RETRY_FIRST_INTERVAL_MS,
      maxAttempts: s.RESERVATION_RETRY_MAX_ATTEMPTS,
      backoffCoefficient: s.RESERVATION_RETRY_BACKOFF,
      maxRetryIntervalMs: s.RESERVATION_RETRY_MAX_INTERVAL_MS,
      ...(s.RESERVATION_RETRY_TIMEOUT_MS ? { retryTimeoutMs: s.RESERVATION_RETRY_TIMEOUT_MS } : {}),
    },
  };
}

/** The reservation id of an order line: stable, so a retried or re-run reservation finds the first one. */
export const reservationIdOf = (orderId: string, productId: string): string => `${orderId}/${productId}`;

/**
 * Activity `reserveStock`: reserves the line's units, then records StockReserved (idempotent: a second
 * run finds both the reservation and the event and adds neither).
 * @throws InsufficientStockError, StockUnavailableError (from the stock port; the orchestration retries)
 * @throws DomainError when the order left `submitted` meanwhile (the reservation is released first)
 */
export async function reserveStock(
  deps: AcceptanceDeps,
  input: ActivityBase & AcceptanceLine,
): Promise<{ productId: string; quantity: number; reservationId: string }> {
  const reservationId = reservationIdOf(input.orderId, input.productId);
  const reservation = await deps.stock.reserve({
    reservationId,
    orderId: input.orderId,
    productId: input.productId,
    quantity: input.quantity,
  });
  if (reservation.status === 'released') {
    throw new Error(`reservation ${reservationId} was released already; an order's line is reserved once`);
  }
  try {
    await deps.orders.handle(
      input.orderId,
      { type: 'ReserveStock', productId: input.productId, quantity: input.quantity, reservationId },
      { metadata: metadataOf(input) },
    );
  } catch (err) {
    if (err instanceof DomainError) await deps.stock.release(reservationId);
    throw err;
  }
  return { productId: input.productId, quantity: input.quantity, reservationId };
}

/**
 * Returns a reservation's units to stock and records StockReleased (when the order's stream still holds
 * the reservation). Idempotent: a second call releases and appends nothing.
 * @returns whether this call changed anything (units returned or StockReleased appended)
 */
async function releaseReservation(
  deps: AcceptanceDeps,
  orderId: string,
  productId: string,
  metadata: EventMetadata,
): Promise<boolean> {
  const reservationId = reservationIdOf(orderId, productId);
  const before = await deps.stock.get(reservationId);
  if (before?.status === 'reserved') await deps.stock.release(reservationId);
  const r = await deps.orders.handle(orderId, { type: 'ReleaseStock', productId }, { metadata });
  return before?.status === 'reserved' || r.appended.length > 0;
}

/** Activity `releaseStock` (compensation): returns the units and records StockReleased; a repeat changes nothing. */
export async function releaseStock(
  deps: AcceptanceDeps,
  input: ActivityBase & { productId: string },
): Promise<{ productId: string; released: boolean }> {
  await releaseReservation(deps, input.orderId, input.productId, metadataOf(input));
  const reservation = await deps.stock.get(reservationIdOf(input.orderId, input.productId));
  return { productId: input.productId, released: reservation !== undefined };
}

/** An OrderCancelled as the change feed delivers it: its order, version, and the cancel's correlation. */
export interface CancellationNotice {
  orderId: string;
  /** The stream version of the OrderCancelled event (its CloudEvent id is `{orderId}:{version}`). */
  version: number;
  correlationId?: string;
}

/**
 * Releases every reservation a cancelled order still holds, in the stock store and in its stream
 * (StockReleased through `OrderService.handle` ReleaseStock, the compensation's own logic), whether the
 * order was cancelled while its acceptance ran or after it was accepted. The products looked at are the
 * reservations of the stream and the order's lines (a reservation the stock store took but whose
 * StockReserved was refused by the cancellation is released by the reserve activity itself; looking at the
 * lines covers a crash in between). The events name the OrderCancelled's CloudEvent id as causation id
 * and `function:stockRelease` as actor. Idempotent: a second delivery releases and appends nothing.
 * @returns the order's status and the products whose stock this call returned or whose StockReleased it
 *   appended; nothing is done unless the order is cancelled
 */
export async function releaseCancelledOrder(
  deps: AcceptanceDeps,
  notice: CancellationNotice,
): Promise<{ status?: OrderStatus; released: string[] }> {
  const { state } = await deps.orders.load(notice.orderId);
  if (!state.exists) return { released: [] };
  if (state.status !== 'cancelled') return { status: state.status, released: [] };
  const metadata: EventMetadata = {
    correlationId: notice.correlationId ?? notice.orderId,
    causationId: cloudEventId(notice.orderId, notice.version),
    actor: stockReleaseActor,
  };
  const products = [...new Set([...Object.keys(state.reservations), ...state.lines.map((l) => l.productId)])];
  const released: string[] = [];
  for (const productId of products) {
    if (await releaseReservation(deps, notice.orderId, productId, metadata)) released.push(productId);
  }
  return { status: state.status, released };
}

/** Activity `accept`: records OrderAccepted; `ok: false` when the order left `submitted` meanwhile (cancelled). */
export async function acceptOrder(
  deps: AcceptanceDeps,
  input: ActivityBase & { approvedBy?: string },
): Promise<{ ok: boolean; status: OrderStatus }> {
  try {
    const r = await deps.orders.handle(
      input.orderId,
      { type: 'AcceptOrder', ...(input.approvedBy ? { approvedBy: input.approvedBy } : {}) },
      { metadata: metadataOf(input) },
    );
    return { ok: true, status: r.state.status };
  } catch (err) {
    if (!(err instanceof DomainError) || err.kind !== 'conflict') throw err;
    return { ok: false, status: (await deps.orders.load(input.orderId)).state.status };
  }
}

export interface ReservationFailure extends AcceptanceLine {
  reason: string;
}

/**
 * Activity `reject`: records StockReservationFailed for each line that could not be reserved (once per
 * product, also when the activity runs again), then OrderRejected with the reason. `ok: false` when the
 * order left `submitted` meanwhile.
 */
export async function rejectOrder(
  deps: AcceptanceDeps,
  input: ActivityBase & { reason: string; failures?: ReservationFailure[] },
): Promise<{ ok: boolean; status: OrderStatus }> {
  const metadata = metadataOf(input);
  const { events } = await deps.orders.load(input.orderId);
  const recorded = new Set(
    events
      .filter((e) => e.type === 'StockReservationFailed')
      .map((e) => (e.data as { productId: string }).productId),
  );
  try {
    for (const f of input.failures ?? []) {
      if (recorded.has(f.productId)) continue;
      await deps.orders.handle(
        input.orderId,
        { type: 'RecordReservationFailure', productId: f.productId, quantity: f.quantity, reason: f.reason },
        { metadata },
      );
    }
    const r = await deps.orders.handle(
      input.orderId,
      { type: 'RejectOrder', reason: input.reason },
      { metadata },
    );
    return { ok: true, status: r.state.status };
  } catch (err) {
    if (!(err instanceof DomainError) || err.kind !== 'conflict') throw err;
    return { ok: false, status: (await deps.orders.load(input.orderId)).state.status };
  }
}
