import { app } from '@azure/functions';
import * as df from 'durable-functions';
import { OrchestrationContext, OrchestrationHandler, RetryOptions, Task } from 'durable-functions';
import {
  acceptanceActivities,
  AcceptanceInput,
  AcceptanceLine,
  acceptanceOrchestration,
  AcceptanceOutput,
  AcceptanceStatus,
  ActivityBase,
  acceptOrder,
  approvalEvent,
  ApprovalDecision,
  rejectOrder,
  releaseStock,
  ReservationFailure,
  ReservationRetry,
  reserveStock,
  validateOrder,
  Validation,
} from '../app/acceptance';
import { closeAcceptanceServices, getAcceptanceDeps } from '../app/acceptanceServices';

/*
 * Order acceptance as a Durable Functions orchestration (see the flow in the design brief and
 * docs/durable.md). The orchestrator is deterministic: time only from `currentUtcDateTime`, no ids, no
 * settings, no I/O; every decision that needs data is an activity result, which the history keeps.
 */

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

function retryOptionsOf(r: ReservationRetry): RetryOptions {
  const options = new df.RetryOptions(r.firstRetryIntervalMs, r.maxAttempts);
  options.backoffCoefficient = r.backoffCoefficient;
  options.maxRetryIntervalInMilliseconds = r.maxRetryIntervalMs;
  if (r.retryTimeoutMs) options.retryTimeoutInMilliseconds = r.retryTimeoutMs;
  return options;
}

const isFinished = (t: Task) => t.isCompleted || t.isFaulted;

/** Releases what was reserved (compensation), records the rejection, and says so in the custom status. */
function* compensateAndReject(
  context: OrchestrationContext,
  base: ActivityBase,
  reason: string,
  reserved: string[],
  retry: RetryOptions | undefined,
  failures: ReservationFailure[] = [],
): Generator<Task, AcceptanceOutput, unknown> {
  const status = (s: Omit<AcceptanceStatus, 'orderId'>) =>
    context.df.setCustomStatus({ orderId: base.orderId, ...s });
  if (reserved.length > 0) {
    status({ step: 'releasing-stock', detail: reason });
    yield context.df.Task.all(
      reserved.map((productId) =>
        retry
          ? context.df.callActivityWithRetry(acceptanceActivities.releaseStock, retry, { ...base, productId })
          : context.df.callActivity(acceptanceActivities.releaseStock, { ...base, productId }),
      ),
    );
  }
  status({ step: 'rejecting', detail: reason });
  const rejected = (yield context.df.callActivity(acceptanceActivities.reject, {
    ...base,
    reason,
    failures,
  })) as {
    ok: boolean;
    status: string;
  };
  const outcome = rejected.ok ? 'rejected' : 'skipped';
  status({ step: outcome, detail: rejected.ok ? reason : `the order is ${rejected.status}` });
  return { orderId: base.orderId, outcome, reason, reserved, released: reserved };
}

/**
 * validate → reserve every line in parallel (retried per RESERVATION_RETRY_*) → above APPROVAL_THRESHOLD
 * wait for the `approval` event until APPROVAL_TIMEOUT_SECONDS have passed → OrderAccepted; or release every
 * reservation made and OrderRejected with the reason.
 */
export const orderAcceptanceOrchestrator: OrchestrationHandler = function* (context) {
  const input = context.df.getInput() as AcceptanceInput;
  const base: ActivityBase = {
    orderId: input.orderId,
    correlationId: input.correlationId,
    instanceId: context.df.instanceId,
  };
  const status = (s: Omit<AcceptanceStatus, 'orderId'>) =>
    context.df.setCustomStatus({ orderId: base.orderId, ...s });

  status({ step: 'validating' });
  const order = (yield context.df.callActivity(acceptanceActivities.validate, base)) as Validation;
  if (!order.ok) {
    if (order.skip) {
      status({ step: 'skipped', detail: order.reason });
      return { orderId: base.orderId, outcome: 'skipped', reason: order.reason, reserved: [], released: [] };
    }
    return yield* compensateAndReject(context, base, order.reason, [], undefined);
  }

  status({ step: 'reserving-stock', total: order.total, currency: order.currency });
  const retry = retryOptionsOf(order.retry);
  const reservations = order.lines.map((line: AcceptanceLine) =>
    context.df.callActivityWithRetry(acceptanceActivities.reserveStock, retry, { ...base, ...line }),
  );
  let reservationError: unknown;
  try {
    yield context.df.Task.all(reservations);
  } catch (err) {
    reservationError = err;
  }
  if (reservationError !== undefined) {
    // Task.all fails at the first failure; wait for the others, so every reservation made is released.
    for (const t of reservations) {
      if (isFinished(t)) continue;
      try {
        yield t;
      } catch {
        // collected below with the other failures
      }
    }
    const reserved = order.lines.filter((_, k) => reservations[k].isCompleted && !reservations[k].isFaulted);
    const failures = order.lines
      .map((l, k) => ({ ...l, reason: reservations[k].isFaulted ? messageOf(reservations[k].result) : '' }))
      .filter((f) => f.reason !== '');
    const reason = `stock could not be reserved: ${failures.map((f) => `${f.productId}: ${f.reason}`).join('; ')}`;
    return yield* compensateAndReject(
      context,
      base,
      reason,
      reserved.map((l) => l.productId),
      retry,
      failures,
    );
  }
  const reserved = order.lines.map((l) => l.productId);

  let approvedBy: string | undefined;
  if (order.needsApproval) {
    const deadline = new Date(context.df.currentUtcDateTime.getTime() + order.approvalTimeoutSeconds * 1000);
    status({
      step: 'awaiting-approval',
      approvalDeadline: deadline.toISOString(),
      total: order.total,
      currency: order.currency,
      detail: `the total is above ${order.approvalThreshold} ${order.currency}`,
    });
    const approval = context.df.waitForExternalEvent(approvalEvent);
    const timeout = context.df.createTimer(deadline);
    const winner = yield context.df.Task.any([approval, timeout]);
    if (winner !== approval) {
      return yield* compensateAndReject(
        context,
        base,
        `no approval before ${deadline.toISOString()}`,
        reserved,
        retry,
      );
    }
    timeout.cancel();
    const decision = approval.result as ApprovalDecision;
    if (!decision?.approved) {
      const by = decision?.approver ?? 'unknown';
      const reason = `not approved by ${by}${decision?.comment ? `: ${decision.comment}` : ''}`;
      return yield* compensateAndReject(context, base, reason, reserved, retry);
    }
    approvedBy = decision.approver;
  }

  status({ step: 'accepting' });
  const accepted = (yield context.df.callActivity(acceptanceActivities.accept, { ...base, approvedBy })) as {
    ok: boolean;
    status: string;
  };
  if (!accepted.ok) {
    // Cancelled while being accepted: give the stock back; the order stays as it is.
    status({ step: 'releasing-stock', detail: `the order is ${accepted.status}` });
    yield context.df.Task.all(
      reserved.map((productId) =>
        context.df.callActivityWithRetry(acceptanceActivities.releaseStock, retry, { ...base, productId }),
      ),
    );
    status({ step: 'skipped', detail: `the order is ${accepted.status}` });
    const output: AcceptanceOutput = {
      orderId: base.orderId,
      outcome: 'skipped',
      reason: `the order is ${accepted.status}`,
      reserved,
      released: reserved,
    };
    return output;
  }
  status({ step: 'accepted', ...(approvedBy ? { detail: `approved by ${approvedBy}` } : {}) });
  const output: AcceptanceOutput = {
    orderId: base.orderId,
    outcome: 'accepted',
    ...(approvedBy ? { approvedBy } : {}),
    reserved,
    released: [],
  };
  return output;
};

df.app.orchestration(acceptanceOrchestration, orderAcceptanceOrchestrator);

df.app.activity(acceptanceActivities.validate, {
  handler: (input: ActivityBase) => validateOrder(getAcceptanceDeps(), input),
});
df.app.activity(acceptanceActivities.reserveStock, {
  handler: (input: ActivityBase & AcceptanceLine) => reserveStock(getAcceptanceDeps(), input),
});
df.app.activity(acceptanceActivities.releaseStock, {
  handler: (input: ActivityBase & { productId: string }) => releaseStock(getAcceptanceDeps(), input),
});
df.app.activity(acceptanceActivities.accept, {
  handler: (input: ActivityBase & { approvedBy?: string }) => acceptOrder(getAcceptanceDeps(), input),
});
df.app.activity(acceptanceActivities.reject, {
  handler: (input: ActivityBase & { reason: string; failures?: ReservationFailure[] }) =>
    rejectOrder(getAcceptanceDeps(), input),
});

app.hook.appTerminate(() => closeAcceptanceServices());
