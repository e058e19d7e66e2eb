import * as df from 'durable-functions';
import { OrchestrationContext, OrchestrationHandler, RetryOptions, Task } from 'durable-functions';
import {
  afterDecision,
  messageOf,
  noApprovalBefore,
  notSubmitted,
  onWaitEvent,
  recoveryFor,
  reservationOutcome,
  startApprovalWait,
  WaitNext,
} from './decisions';
import {
  acceptanceActivities,
  AcceptanceInput,
  AcceptanceLine,
  AcceptanceOutput,
  AcceptanceStatus,
  AcceptanceStep,
  ActivityBase,
  approvalEvent,
  ApprovalDecision,
  orderCancelledEvent,
  ReservationFailure,
  ReservationRetry,
  Validation,
} from './contract';
import { recordAcceptance } from './telemetry';

/*
 * Order acceptance as a Durable Functions orchestration (see the flow in docs/architecture.md and
 * docs/durable.md). The orchestrator is deterministic: time only from `currentUtcDateTime`, no ids, no
 * settings, no I/O; every decision that needs data is an activity result, which the history keeps.
 *
 * Every way out decides the order where that is still possible: a refusal, a failed reservation, a
 * malformed or late approval and any unexpected error (an activity failing every attempt, a bug) end in
 * OrderRejected with the reason, after the stock reserved so far is released. A cancellation of the order
 * (the `orderCancelled` event while awaiting an approval, or an accept/reject that finds the order
 * cancelled) ends it with outcome `cancelled`, the stock released. Only a reject activity that
 * fails every attempt leaves the instance Failed with the order submitted (nothing is left to record the
 * decision with); GET /api/orders/{id}/acceptance says so.
 */

/**
 * How often `validate`, `accept` and `reject` are tried, and the durable timer between tries: fixed here,
 * so a replay never depends on a setting (the reservation policy comes with validate's result).
 */
const stepRetry = { attempts: 3, firstDelayMs: 5_000, backoff: 2 } as const;

function retryOptionsOf(r: ReservationRetry): RetryOptions {
  const options = new df.RetryOptions(r.firstRetryIntervalMs, r.maxAttempts);
  options.backoffCoefficient = r.backoffCoefficient;
  options.maxRetryIntervalInMilliseconds = r.maxRetryIntervalMs;
  if (r.retryTimeoutMs) options.retryTimeoutInMilliseconds = r.retryTimeoutMs;
  return options;
}

const isFinished = (t: Task) => t.isCompleted || t.isFaulted;

/** Where the orchestration is, for the recovery from an unexpected error. */
interface Progress {
  step: AcceptanceStep;
  /** Products reserved and not released. */
  reserved: string[];
  retry?: RetryOptions;
}

type Step = Generator<Task, unknown, unknown>;

/**
 * Calls an activity; when it fails, waits `stepRetry` (a durable timer) and calls it again, up to
 * `stepRetry.attempts` calls, then throws the last error. Written out rather than `callActivityWithRetry`
 * so that a first call that succeeds is the same `CallActivity` action as before this retry existed: the
 * histories of instances already running replay unchanged.
 */
function* callActivityPatiently(context: OrchestrationContext, name: string, input: unknown): Step {
  for (let attempt = 1; ; attempt++) {
    try {
      return yield context.df.callActivity(name, input);
    } catch (err) {
      if (attempt >= stepRetry.attempts) throw err;
      const delayMs = stepRetry.firstDelayMs * stepRetry.backoff ** (attempt - 1);
      yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + delayMs));
    }
  }
}

/** Waits until every task has finished, failed ones included (Task.all gives up at the first failure). */
function* settleAll(context: OrchestrationContext, tasks: Task[]): Generator<Task, void, unknown> {
  if (tasks.length === 0) return;
  try {
    yield context.df.Task.all(tasks);
  } catch {
    for (const t of tasks) {
      if (isFinished(t)) continue;
      try {
        yield t;
      } catch {
        // read from the task below
      }
    }
  }
}

/**
 * Releases the products' reservations (the compensation). Never throws: a release that failed every
 * attempt is returned in `unreleased`.
 */
function* releaseAll(
  context: OrchestrationContext,
  base: ActivityBase,
  products: string[],
  retry: RetryOptions | undefined,
): Generator<Task, { released: string[]; unreleased: string[] }, unknown> {
  const tasks = products.map((productId) =>
    retry
      ? context.df.callActivityWithRetry(acceptanceActivities.releaseStock, retry, { ...base, productId })
      : context.df.callActivity(acceptanceActivities.releaseStock, { ...base, productId }),
  );
  yield* settleAll(context, tasks);
  return {
    released: products.filter((_, k) => tasks[k].isCompleted),
    unreleased: products.filter((_, k) => !tasks[k].isCompleted),
  };
}

const statusSetter =
  (context: OrchestrationContext, orderId: string, progress: Progress) =>
  (s: Omit<AcceptanceStatus, 'orderId'>) => {
    progress.step = s.step;
    context.df.setCustomStatus({ orderId, ...s });
  };

/**
 * Releases what was reserved (compensation), records the rejection, and says so in the custom status.
 * @throws the reject activity's error once it failed every attempt (nothing is left to compensate with)
 */
function* compensateAndReject(
  context: OrchestrationContext,
  base: ActivityBase,
  progress: Progress,
  reason: string,
  failures: ReservationFailure[] = [],
): Generator<Task, AcceptanceOutput, unknown> {
  const status = statusSetter(context, base.orderId, progress);
  const reserved = progress.reserved;
  let released: string[] = [];
  let unreleased: string[] = [];
  if (reserved.length > 0) {
    status({ step: 'releasing-stock', detail: reason });
    ({ released, unreleased } = yield* releaseAll(context, base, reserved, progress.retry));
    progress.reserved = unreleased;
  }
  const leftover = unreleased.length ? `; stock still reserved for ${unreleased.join(', ')}` : '';
  status({ step: 'rejecting', detail: reason + leftover });
  const rejected = (yield* callActivityPatiently(context, acceptanceActivities.reject, {
    ...base,
    reason,
    failures,
  })) as { ok: boolean; status: string };
  const outcome = rejected.ok ? 'rejected' : notSubmitted(rejected.status);
  status({ step: outcome, detail: (rejected.ok ? reason : `the order is ${rejected.status}`) + leftover });
  return releasedOutput(base.orderId, outcome, reason, reserved, released, unreleased);
}

/**
 * Ends an acceptance whose order left `submitted` under it (cancelled, as a rule): releases what it
 * reserved, and ends with outcome `cancelled` (`skipped` for any other status), the order left as it is.
 * The stock-release function releases the same reservations when it sees OrderCancelled; both are
 * idempotent, whichever runs first.
 */
function* releaseAndEnd(
  context: OrchestrationContext,
  base: ActivityBase,
  progress: Progress,
  reason: string,
  orderStatus: string,
): Generator<Task, AcceptanceOutput, unknown> {
  const status = statusSetter(context, base.orderId, progress);
  const reserved = [...progress.reserved];
  status({ step: 'releasing-stock', detail: reason });
  const { released, unreleased } = yield* releaseAll(context, base, reserved, progress.retry);
  progress.reserved = unreleased;
  const outcome = notSubmitted(orderStatus);
  const leftover = unreleased.length ? `; stock still reserved for ${unreleased.join(', ')}` : '';
  status({ step: outcome, detail: reason + leftover });
  return releasedOutput(base.orderId, outcome, reason, reserved, released, unreleased);
}

/** The output of an acceptance that ended by giving stock back (rejected, cancelled or skipped). */
function releasedOutput(
  orderId: string,
  outcome: AcceptanceOutput['outcome'],
  reason: string,
  reserved: string[],
  released: string[],
  unreleased: string[],
): AcceptanceOutput {
  return { orderId, outcome, reason, reserved, released, ...(unreleased.length ? { unreleased } : {}) };
}

/**
 * The compensation for an error nothing else caught: release the stock reserved so far, then reject with
 * the error as the reason. After a failed `accept` (it may have recorded OrderAccepted before failing)
 * the order is rejected first and the stock released only if the order did not end up accepted.
 * @throws the error again when it came from rejecting (the one step that cannot be compensated) or
 *   after the order was decided
 */
function* recover(
  context: OrchestrationContext,
  base: ActivityBase,
  progress: Progress,
  err: unknown,
): Generator<Task, AcceptanceOutput, unknown> {
  const recovery = recoveryFor(progress.step, err);
  if (recovery.kind === 'rethrow') throw err;
  const { reason } = recovery;
  if (recovery.kind === 'compensate') return yield* compensateAndReject(context, base, progress, reason);

  const status = statusSetter(context, base.orderId, progress);
  const reserved = progress.reserved;
  status({ step: 'rejecting', detail: reason });
  const rejected = (yield* callActivityPatiently(context, acceptanceActivities.reject, {
    ...base,
    reason,
  })) as {
    ok: boolean;
    status: string;
  };
  if (!rejected.ok && rejected.status === 'accepted') {
    status({ step: 'accepted', detail: `accepted; the accept activity reported: ${messageOf(err)}` });
    return { orderId: base.orderId, outcome: 'accepted', reserved, released: [] };
  }
  status({ step: 'releasing-stock', detail: reason });
  const { released, unreleased } = yield* releaseAll(context, base, reserved, progress.retry);
  const outcome = rejected.ok ? 'rejected' : notSubmitted(rejected.status);
  status({ step: outcome, detail: rejected.ok ? reason : `the order is ${rejected.status}` });
  return releasedOutput(base.orderId, outcome, reason, reserved, released, unreleased);
}

/**
 * validate → reserve every line in parallel (retried per RESERVATION_RETRY_*) → above APPROVAL_THRESHOLD
 * wait for a well-formed `approval` event until APPROVAL_TIMEOUT_SECONDS have passed (malformed ones are
 * counted in the custom status and ignored) → OrderAccepted; or release every reservation made and
 * OrderRejected with the reason. An `orderCancelled` event during the wait, once `validate` confirms the
 * order is cancelled, releases the reservations and ends with outcome `cancelled`. An unexpected error is
 * compensated the same way (`recover`).
 */
export const orderAcceptanceOrchestrator: OrchestrationHandler = function* (context) {
  const input = context.df.getInput() as AcceptanceInput;
  const base: ActivityBase = {
    orderId: input.orderId,
    correlationId: input.correlationId,
    instanceId: context.df.instanceId,
    ...(input.traceparent ? { traceparent: input.traceparent } : {}),
  };
  const progress: Progress = { step: 'validating', reserved: [] };
  // The start of the orchestration: every replay reads the same time from the history.
  const startedAt = context.df.currentUtcDateTime.getTime();
  const ended = (outcome: string) => {
    // Recorded once, by the episode that ends the orchestration, never by a replay of it.
    if (!context.df.isReplaying) {
      recordAcceptance(outcome, context.df.currentUtcDateTime.getTime() - startedAt);
    }
  };
  let output: AcceptanceOutput;
  try {
    try {
      output = yield* decide(context, base, progress);
    } catch (err) {
      output = yield* recover(context, base, progress, err);
    }
  } catch (err) {
    ended('failed');
    throw err;
  }
  ended(output.outcome);
  return output;
};

function* decide(
  context: OrchestrationContext,
  base: ActivityBase,
  progress: Progress,
): Generator<Task, AcceptanceOutput, unknown> {
  const status = statusSetter(context, base.orderId, progress);

  status({ step: 'validating' });
  const order = (yield* callActivityPatiently(context, acceptanceActivities.validate, base)) as Validation;
  if (!order.ok) {
    if (order.skip) {
      status({ step: 'skipped', detail: order.reason });
      return { orderId: base.orderId, outcome: 'skipped', reason: order.reason, reserved: [], released: [] };
    }
    return yield* compensateAndReject(context, base, progress, order.reason);
  }

  status({ step: 'reserving-stock', total: order.total, currency: order.currency });
  const retry = retryOptionsOf(order.retry);
  progress.retry = retry;
  const reservations = order.lines.map((line: AcceptanceLine) =>
    context.df.callActivityWithRetry(acceptanceActivities.reserveStock, retry, { ...base, ...line }),
  );
  yield* settleAll(context, reservations);
  const outcome = reservationOutcome(
    order.lines,
    reservations.map((t) => ({ completed: t.isCompleted, error: t.result })),
  );
  progress.reserved = outcome.reserved;
  if (outcome.reason) {
    return yield* compensateAndReject(context, base, progress, outcome.reason, outcome.failures);
  }
  const reserved = [...progress.reserved];

  let approvedBy: string | undefined;
  if (order.needsApproval) {
    const deadline = new Date(context.df.currentUtcDateTime.getTime() + order.approvalTimeoutSeconds * 1000);
    let wait = startApprovalWait(deadline.toISOString(), order);
    status(wait.status);
    const timeout = context.df.createTimer(deadline);
    const late = noApprovalBefore(deadline.toISOString());
    let decision: ApprovalDecision | undefined;
    // One deadline for all events (see onWaitEvent). Each round waits with new event tasks (the library
    // would queue a waiting task twice if it were yielded again; an event goes to the newest waiter of its
    // name), and never yields Task.any with the timer already fired (such a Task.any would never resolve).
    while (decision === undefined) {
      // Fired while the order was checked, or in one batch with a malformed approval.
      if (isFinished(timeout)) return yield* compensateAndReject(context, base, progress, late);
      const approval = context.df.waitForExternalEvent(approvalEvent);
      const cancellation = context.df.waitForExternalEvent(orderCancelledEvent);
      const winner = yield context.df.Task.any([approval, timeout, cancellation]);
      if (winner === timeout) return yield* compensateAndReject(context, base, progress, late);
      let next: WaitNext;
      if (winner === cancellation) {
        const now = (yield* callActivityPatiently(
          context,
          acceptanceActivities.validate,
          base,
        )) as Validation;
        next = onWaitEvent(
          wait,
          !now.ok && now.skip
            ? { kind: 'order-left-submitted', status: now.status ?? 'gone' }
            : { kind: 'order-still-submitted' },
        );
        if (next.kind === 'end') {
          if (!isFinished(timeout)) timeout.cancel();
          return yield* releaseAndEnd(context, base, progress, next.reason, next.orderStatus);
        }
        if (next.kind === 'wait') {
          wait = next.wait;
          status(wait.status);
        }
        // An approval that came while the order was checked is read below; else wait again.
        if (!isFinished(approval)) continue;
      }
      next = onWaitEvent(wait, { kind: 'approval', payload: approval.result });
      if (next.kind === 'decided') decision = next.decision;
      else if (next.kind === 'wait') {
        wait = next.wait;
        status(wait.status);
      }
    }
    if (!isFinished(timeout)) timeout.cancel();
    const after = afterDecision(decision);
    if (after.kind === 'reject') return yield* compensateAndReject(context, base, progress, after.reason);
    approvedBy = after.approvedBy;
  }

  status({ step: 'accepting' });
  const accepted = (yield* callActivityPatiently(context, acceptanceActivities.accept, {
    ...base,
    approvedBy,
  })) as { ok: boolean; status: string };
  if (!accepted.ok) {
    // Cancelled while being accepted: give the stock back; the order stays as it is.
    return yield* releaseAndEnd(context, base, progress, `the order is ${accepted.status}`, accepted.status);
  }
  status({ step: 'accepted', ...(approvedBy ? { detail: `approved by ${approvedBy}` } : {}) });
  return {
    orderId: base.orderId,
    outcome: 'accepted',
    ...(approvedBy ? { approvedBy } : {}),
    reserved,
    released: [],
  };
}
