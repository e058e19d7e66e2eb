import { z } from 'zod';
import { OrderStatus } from '../domain/state';
import { printable } from '../domain/text';
import { RecordedEvent, StoredEventRecord } from '../ports/eventStore';

/**
 * The contract of the order-acceptance process: its names and instance ids, the shapes its activities,
 * orchestrator, starter and HTTP routes exchange, and the one schema of an approval. Pure: no store, no
 * setting, no clock.
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
  /**
   * W3C trace context of the starter's span (telemetry on): the parent of every activity's span, so the
   * acceptance shows in the submit's trace (docs/observability.md). Data, not a replayed decision.
   */
  traceparent?: string;
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

const decisionText = (max: number) =>
  z.string().trim().max(max).refine(printable, 'must not contain control characters or lone surrogates');

/**
 * The one schema of an approval decision: the payload of the `approval` event as the orchestrator accepts it
 * (the body of `POST /api/orders/{id}/approval` is this without `approver`, `approvalRequestSchema`), because the
 * event can also be raised through the extension's own webhook, which checks nothing but that the body is
 * JSON. `approver` becomes OrderAccepted's `approvedBy` (at most 256 characters in the event catalogue);
 * an empty `comment` is dropped.
 */
export const approvalDecisionSchema = z
  .strictObject({
    approved: z.boolean().meta({ description: 'true approves the order; false rejects it.' }),
    approver: decisionText(256).min(1).meta({ description: 'Who decided.', example: 'ops@contoso.com' }),
    comment: decisionText(1000).optional(),
  })
  .meta({ id: 'ApprovalDecision' });

/**
 * The body of `POST /api/orders/{id}/approval`: the decision without `approver`, which is the signed-in
 * caller (src/acceptance/status.ts), never what the body says; a body naming one is refused (400).
 */
export const approvalRequestSchema = approvalDecisionSchema
  .omit({ approver: true })
  .meta({ id: 'ApprovalRequest' });

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
  /** The acceptance's trace context ({@link AcceptanceInput.traceparent}), the parent of the activity's span. */
  traceparent?: string;
}

/**
 * The policy an acceptance follows, from settings (src/composition/services.ts builds it): the validate
 * activity hands it to the orchestrator, whose history keeps it, so a changed setting cannot change a replay.
 */
export interface AcceptancePolicy {
  /** Order total above which a person must approve, in the order's currency (decimal string). */
  approvalThreshold: string;
  /** How long an approval is awaited, in seconds. */
  approvalTimeoutSeconds: number;
  retry: ReservationRetry;
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

/** `a` compared with `b`, both non-negative decimal strings: -1, 0 or 1 (exact, up to 6 fraction digits). */
export function compareDecimal(a: string, b: string): number {
  const scaled = (x: string) => {
    const [int, frac = ''] = x.split('.');
    return BigInt(int) * 10n ** 6n + BigInt(frac.padEnd(6, '0').slice(0, 6) || '0');
  };
  const d = scaled(a) - scaled(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

/** The reservation id of an order line: stable, so a retried or re-run reservation finds the first one. */
export const reservationIdOf = (orderId: string, productId: string): string => `${orderId}/${productId}`;

/** An OrderCancelled as the change feed delivers it: its order, version, and the cancel's correlation. */
export interface CancellationNotice {
  orderId: string;
  /** The stream version of the OrderCancelled event (its CloudEvent id is `{orderId}:{version}`). */
  version: number;
  correlationId?: string;
}

export interface ReservationFailure extends AcceptanceLine {
  reason: string;
}
