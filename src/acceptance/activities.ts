import { DomainError, maxLineQuantity, maxOrderTotal, orderTotal } from '../domain/decider';
import { toMinorUnits } from '../domain/money';
import { heldReservation, OrderStatus, reservedProducts } from '../domain/state';
import { cloudEventId } from '../app/cloudEvents';
import { OrderService } from '../app/orderService';
import { EventMetadata } from '../ports/eventStore';
import { StockReservations } from '../ports/stockReservations';
import {
  acceptanceActor,
  AcceptanceLine,
  AcceptancePolicy,
  ActivityBase,
  CancellationNotice,
  lastSubmitted,
  compareDecimal,
  ReservationFailure,
  reservationIdOf,
  stockReleaseActor,
  Validation,
  acceptanceActivities,
} from './contract';
import { activitySpan } from './telemetry';

/**
 * The work of the order-acceptance activities. The orchestrator (./orchestrator.ts) only sequences these
 * steps; everything that reads stores or clocks happens here, inside activities, whose results the
 * orchestration history keeps.
 */

export interface AcceptanceDeps {
  orders: OrderService;
  stock: StockReservations;
  policy: AcceptancePolicy;
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

const metadataOf = (input: ActivityBase): EventMetadata => ({
  correlationId: input.correlationId ?? input.orderId,
  causationId: input.instanceId,
  actor: acceptanceActor,
});

/**
 * Activity `validate`: the order is submitted, has lines, one currency, every line a whole quantity of 1 to
 * `maxLineQuantity` units at a valid unit price, a total below `maxOrderTotal`, and its total matches what
 * OrderSubmitted recorded. The API refuses such orders already; the check is repeated here for orders
 * written by other writers. A failed check is an answer (`ok: false`), never an exception, so the
 * orchestration rejects the order with the reason. Also hands the orchestration the policy it needs
 * (threshold, timeout, retries), so the orchestrator reads no setting itself.
 * @throws whatever loading the order throws (the store is unavailable, an event of a newer schema)
 */
async function validate(deps: AcceptanceDeps, input: ActivityBase): Promise<Validation> {
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
  const { policy } = deps;
  return {
    ok: true,
    orderId: input.orderId,
    currency,
    total,
    lines: state.lines.map((l) => ({ productId: l.productId, quantity: l.quantity })),
    needsApproval: compareDecimal(total, policy.approvalThreshold) > 0,
    approvalThreshold: policy.approvalThreshold,
    approvalTimeoutSeconds: policy.approvalTimeoutSeconds,
    retry: policy.retry,
  };
}

/**
 * Activity `reserveStock`: reserves the line's units, then records StockReserved (idempotent: a second
 * run finds both the reservation and the event and adds neither).
 * @throws InsufficientStockError, StockUnavailableError (from the stock port; the orchestration retries)
 * @throws DomainError when the order left `submitted` meanwhile (the reservation is released first, unless
 *   the order's stream records it: then it is released with a StockReleased, like every recorded one)
 */
async function reserve(
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
    // Refused (the order left `submitted`): give back the units unless the stream already records them as
    // reserved (this activity ran again after it succeeded); those are released with a StockReleased, by the
    // compensation or the stock-release function, never behind the stream's back.
    if (err instanceof DomainError) {
      const { state } = await deps.orders.load(input.orderId);
      if (heldReservation(state, input.productId)?.reservationId !== reservationId) {
        await deps.stock.release(reservationId);
      }
    }
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
async function release(
  deps: AcceptanceDeps,
  input: ActivityBase & { productId: string },
): Promise<{ productId: string; released: boolean }> {
  await releaseReservation(deps, input.orderId, input.productId, metadataOf(input));
  const reservation = await deps.stock.get(reservationIdOf(input.orderId, input.productId));
  return { productId: input.productId, released: reservation !== undefined };
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
  const products = [...new Set([...reservedProducts(state), ...state.lines.map((l) => l.productId)])];
  const released: string[] = [];
  for (const productId of products) {
    if (await releaseReservation(deps, notice.orderId, productId, metadata)) released.push(productId);
  }
  return { status: state.status, released };
}

/** Activity `accept`: records OrderAccepted; `ok: false` when the order left `submitted` meanwhile (cancelled). */
async function accept(
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

/**
 * Activity `reject`: records StockReservationFailed for each line that could not be reserved (once per
 * product, also when the activity runs again), then OrderRejected with the reason. `ok: false` when the
 * order left `submitted` meanwhile.
 */
async function reject(
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

/*
 * The activities as registered (src/functions/orderAcceptance.ts): each run in its own span, a child of the
 * acceptance's trace (src/acceptance/telemetry.ts), with the same contract as the function it wraps above.
 */

/** Activity `validate` (see `validate`). */
export const validateOrder = (deps: AcceptanceDeps, input: ActivityBase): Promise<Validation> =>
  activitySpan(acceptanceActivities.validate, input, () => validate(deps, input));

/** Activity `reserveStock` (see `reserve`). */
export const reserveStock = (
  deps: AcceptanceDeps,
  input: ActivityBase & AcceptanceLine,
): Promise<{ productId: string; quantity: number; reservationId: string }> =>
  activitySpan(acceptanceActivities.reserveStock, input, () => reserve(deps, input));

/** Activity `releaseStock` (see `release`). */
export const releaseStock = (
  deps: AcceptanceDeps,
  input: ActivityBase & { productId: string },
): Promise<{ productId: string; released: boolean }> =>
  activitySpan(acceptanceActivities.releaseStock, input, () => release(deps, input));

/** Activity `accept` (see `accept`). */
export const acceptOrder = (
  deps: AcceptanceDeps,
  input: ActivityBase & { approvedBy?: string },
): Promise<{ ok: boolean; status: OrderStatus }> =>
  activitySpan(acceptanceActivities.accept, input, () => accept(deps, input));

/** Activity `reject` (see `reject`). */
export const rejectOrder = (
  deps: AcceptanceDeps,
  input: ActivityBase & { reason: string; failures?: ReservationFailure[] },
): Promise<{ ok: boolean; status: OrderStatus }> =>
  activitySpan(acceptanceActivities.reject, input, () => reject(deps, input));
