import {
  AcceptanceLine,
  AcceptanceOutcome,
  AcceptanceStatus,
  AcceptanceStep,
  ApprovalDecision,
  parseApproval,
  ReservationFailure,
} from './contract';

/*
 * The acceptance's next-step decisions, pure: what to do after each activity result or external event,
 * as functions of the inputs and the orchestration's own state. The orchestrator (./orchestrator.ts) only
 * sequences activities, timers and events around them, so these rules are specified given/when/then in
 * test/acceptance/decisions.spec.ts without a replay engine.
 */

/** Longest rejection reason built from an error message (OrderRejected's reason is shown to people). */
export const maxReasonLength = 1000;

/** `text` cut to {@link maxReasonLength} characters, with an ellipsis when cut. */
export const clip = (text: string): string =>
  text.length > maxReasonLength ? `${text.slice(0, maxReasonLength - 1)}…` : text;

export const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** The outcome when an activity found the order no longer submitted: cancelled meanwhile, or decided. */
export const notSubmitted = (status: string): AcceptanceOutcome =>
  status === 'cancelled' ? 'cancelled' : 'skipped';

/** The steps after which the acceptance has nothing left to do. */
export const finalSteps: ReadonlySet<AcceptanceStep> = new Set([
  'accepted',
  'rejected',
  'cancelled',
  'skipped',
]);

const doing: Readonly<Record<AcceptanceStep, string>> = {
  validating: 'validating the order',
  'reserving-stock': 'reserving stock',
  'awaiting-approval': 'awaiting an approval',
  accepting: 'accepting the order',
  'releasing-stock': 'releasing stock',
  rejecting: 'rejecting the order',
  accepted: 'finishing',
  rejected: 'finishing',
  cancelled: 'finishing',
  skipped: 'finishing',
};

/**
 * What to do with an error nothing else caught, by the step it happened in:
 * - `rethrow`: while rejecting (the one step that cannot be compensated) or after the order was decided;
 * - `reject-first`: while accepting (the accept may have recorded OrderAccepted before failing): reject,
 *   and release the stock only if the order did not end up accepted;
 * - `compensate`: anywhere else: release what was reserved, then reject with the error as the reason.
 */
export type Recovery =
  { kind: 'rethrow' } | { kind: 'reject-first'; reason: string } | { kind: 'compensate'; reason: string };

export function recoveryFor(step: AcceptanceStep, err: unknown): Recovery {
  if (step === 'rejecting' || finalSteps.has(step)) return { kind: 'rethrow' };
  const reason = clip(`the acceptance failed while ${doing[step]}: ${messageOf(err)}`);
  return step === 'accepting' ? { kind: 'reject-first', reason } : { kind: 'compensate', reason };
}

/**
 * The reservations' outcome from each line's task: which products were reserved, and, when any failed, the
 * failures and the rejection reason naming each.
 */
export function reservationOutcome(
  lines: AcceptanceLine[],
  results: { completed: boolean; error?: unknown }[],
): { reserved: string[]; failures: ReservationFailure[]; reason?: string } {
  const reserved = lines.filter((_, k) => results[k].completed).map((l) => l.productId);
  const failures = lines
    .map((l, k) => ({ ...l, reason: results[k].completed ? '' : messageOf(results[k].error) }))
    .filter((f) => f.reason !== '');
  if (failures.length === 0) return { reserved, failures };
  const reason = `stock could not be reserved: ${failures.map((f) => `${f.productId}: ${f.reason}`).join('; ')}`;
  return { reserved, failures, reason };
}

/** Where the wait for an approval stands: the custom status shown while waiting, and what was ignored. */
export interface ApprovalWait {
  status: Omit<AcceptanceStatus, 'orderId'>;
  invalidApprovalIgnored: number;
  cancellationIgnored: number;
}

/** The wait's start: the status shown while awaiting an approval until `deadline` (ISO 8601). */
export function startApprovalWait(
  deadline: string,
  order: { total: string; currency: string; approvalThreshold: string },
): ApprovalWait {
  return {
    status: {
      step: 'awaiting-approval',
      approvalDeadline: deadline,
      total: order.total,
      currency: order.currency,
      detail: `the total is above ${order.approvalThreshold} ${order.currency}`,
    },
    invalidApprovalIgnored: 0,
    cancellationIgnored: 0,
  };
}

/** The rejection reason when no well-formed approval came before the deadline (ISO 8601). */
export const noApprovalBefore = (deadline: string): string => `no approval before ${deadline}`;

/** What happened while waiting. `order-still-submitted`: an `orderCancelled` event the check did not confirm. */
export type WaitEvent =
  | { kind: 'approval'; payload: unknown }
  | { kind: 'deadline'; deadline: string }
  | { kind: 'order-left-submitted'; status: string }
  | { kind: 'order-still-submitted' };

/** The next step of the wait: decided, rejected as late, ended because the order left `submitted`, or go on. */
export type WaitNext =
  | { kind: 'decided'; decision: ApprovalDecision }
  | { kind: 'reject'; reason: string }
  | { kind: 'end'; reason: string; orderStatus: string }
  | { kind: 'wait'; wait: ApprovalWait };

/**
 * The approval wait's rule: one deadline for all events; a malformed approval decides nothing and is
 * counted (the wait goes on until a well-formed one or the same deadline); a cancellation the order's
 * status confirms ends the wait; one it does not confirm is counted and ignored.
 */
export function onWaitEvent(wait: ApprovalWait, event: WaitEvent): WaitNext {
  switch (event.kind) {
    case 'deadline':
      return { kind: 'reject', reason: noApprovalBefore(event.deadline) };
    case 'order-left-submitted':
      return { kind: 'end', reason: `the order is ${event.status}`, orderStatus: event.status };
    case 'order-still-submitted': {
      const cancellationIgnored = wait.cancellationIgnored + 1;
      return {
        kind: 'wait',
        wait: { ...wait, cancellationIgnored, status: { ...wait.status, cancellationIgnored } },
      };
    }
    case 'approval': {
      const parsed = parseApproval(event.payload);
      if (parsed.ok) return { kind: 'decided', decision: parsed.decision };
      const invalidApprovalIgnored = wait.invalidApprovalIgnored + 1;
      return {
        kind: 'wait',
        wait: {
          ...wait,
          invalidApprovalIgnored,
          status: { ...wait.status, invalidApprovalIgnored, lastInvalidApproval: clip(parsed.problem) },
        },
      };
    }
  }
}

/** After a decision: the approver to record, or the rejection reason naming who refused and why. */
export function afterDecision(
  decision: ApprovalDecision,
): { kind: 'accept'; approvedBy: string } | { kind: 'reject'; reason: string } {
  if (decision.approved) return { kind: 'accept', approvedBy: decision.approver };
  return {
    kind: 'reject',
    reason: `not approved by ${decision.approver}${decision.comment ? `: ${decision.comment}` : ''}`,
  };
}
