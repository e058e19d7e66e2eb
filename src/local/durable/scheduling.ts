import { Action, ActionType, activityInputOf, describeAction, fireAtOf, RetryOptionsWire } from './actions';
import { RetryMeta, StoredEvent, TimerRow } from './durableStore';
import { event, EventType, HistoryEvent, isType, jsonText } from './history';

/** The extension's long-timer settings, in milliseconds (see `DurableRuntimeOptions`). */
export interface TimerLimits {
  maxShortTimerMs: number;
  longTimerIntervalMs: number;
}

/** An activity to run once its scheduling event is written. */
export interface ActivityWork {
  taskId: number;
  name: string;
  input?: string;
}

/** A timer to arm once its `TimerCreated` is written (the store adds the instance and execution). */
export type NewTimer = Omit<TimerRow, 'instanceId' | 'executionId'>;

/** The delay before retry `k` (0 = after the first failure): DurableTask.Core RetryInterceptor.ComputeNextDelay. */
export function retryDelayMs(options: RetryOptionsWire, k: number): number {
  const backoff =
    options.backoffCoefficient && options.backoffCoefficient > 0 ? options.backoffCoefficient : 1;
  const delay = options.firstRetryIntervalInMilliseconds * backoff ** k;
  const max = options.maxRetryIntervalInMilliseconds;
  return max && max > 0 ? Math.min(delay, max) : delay;
}

/** Turns one new action into its scheduling event (and the activity to run or timer to arm). */
export function scheduleAction(
  a: Action,
  index: number,
  now: Date,
  allocate: () => number,
  limits: TimerLimits,
):
  | { unsupported: string }
  | {
      stored: StoredEvent;
      activity?: ActivityWork;
      timer?: NewTimer;
      canceled?: boolean;
    } {
  if (a.actionType === ActionType.CallActivity || a.actionType === ActionType.CallActivityWithRetry) {
    const call = a as { functionName: string; input?: unknown; retryOptions?: RetryOptionsWire };
    const id = allocate();
    const input = jsonText(activityInputOf(call));
    const retry: RetryMeta | undefined = call.retryOptions
      ? {
          rootId: id,
          attempt: 1,
          options: { ...call.retryOptions },
          firstAttemptAt: now.toISOString(),
          name: call.functionName,
          input,
        }
      : undefined;
    return {
      stored: {
        event: event(now, { EventType: EventType.TaskScheduled, Name: call.functionName, Input: input }, id),
        meta: { origin: 'action', index, ...(retry ? { retry } : {}) },
      },
      activity: { taskId: id, name: call.functionName, input },
    };
  }
  if (a.actionType === ActionType.CreateTimer) {
    const timer = a as { fireAt: Date | string; isCanceled?: boolean };
    const id = allocate();
    const finalAt = fireAtOf(timer);
    // Same rule as the library's createTimer/LongTimerTask, so both number the pieces alike.
    const long = finalAt.getTime() - now.getTime() > limits.maxShortTimerMs;
    const piece = long ? new Date(now.getTime() + limits.longTimerIntervalMs) : finalAt;
    return {
      stored: {
        event: event(now, { EventType: EventType.TimerCreated, FireAt: piece.toISOString() }, id),
        meta: {
          origin: 'action',
          index,
          ...(long ? { longTimer: { rootId: id, finalFireAt: finalAt.toISOString() } } : {}),
        },
      },
      timer: { timerId: id, rootId: id, fireAt: piece.toISOString() },
      canceled: Boolean(timer.isCanceled),
    };
  }
  const what: Record<number, string> = {
    [ActionType.CallSubOrchestrator]: 'sub-orchestrations',
    [ActionType.CallSubOrchestratorWithRetry]: 'sub-orchestrations',
    [ActionType.ContinueAsNew]: 'continueAsNew',
    [ActionType.CallEntity]: 'entities',
    [ActionType.SignalEntity]: 'entities',
    [ActionType.LockEntities]: 'entity locks',
    [ActionType.ReleaseEntities]: 'entity locks',
    [ActionType.CallHttp]: 'callHttp',
  };
  return { unsupported: `${describeAction(a)} (${what[a.actionType] ?? 'this action'})` };
}

/**
 * What the extension itself adds in answer to an event, before the orchestrator runs:
 * - a failed attempt of an activity called with retries: a timer to the next attempt (DurableTask.Core's
 *   RetryInterceptor, which also creates one after the last attempt; the library waits for it before it
 *   throws). Past the retry timeout the interceptor creates none, which leaves the library waiting
 *   forever (azure-functions-durable-js #629); here the timer fires at once instead and every remaining
 *   attempt fails at once with the timeout named, so the orchestrator sees the error;
 * - that timer fired: the next attempt, unless the attempts are used up;
 * - a piece of a long timer fired before the final time: the next piece.
 */
export function followUps(
  e: HistoryEvent,
  past: StoredEvent[],
  now: Date,
  allocate: () => number,
  limits: TimerLimits,
): {
  events: StoredEvent[];
  activities: ActivityWork[];
  timers: NewTimer[];
  enqueue: HistoryEvent[];
} {
  const out = {
    events: [] as StoredEvent[],
    activities: [] as ActivityWork[],
    timers: [] as NewTimer[],
    enqueue: [] as HistoryEvent[],
  };
  const find = (type: number, id: number) =>
    past.find((h) => h.event.EventType === type && h.event.EventId === id);
  if (isType(e, EventType.TaskFailed)) {
    const meta = find(EventType.TaskScheduled, e.TaskScheduledId)?.meta;
    const retry =
      meta && (meta.origin === 'action' || meta.origin === 'retry-attempt') ? meta.retry : undefined;
    if (!retry) return out;
    const timeout = retry.options.retryTimeoutInMilliseconds;
    const timedOut = Boolean(
      timeout && timeout > 0 && now.getTime() >= Date.parse(retry.firstAttemptAt) + timeout,
    );
    const fireAt = new Date(now.getTime() + (timedOut ? 0 : retryDelayMs(retry.options, retry.attempt - 1)));
    const id = allocate();
    out.events.push({
      event: event(now, { EventType: EventType.TimerCreated, FireAt: fireAt.toISOString() }, id),
      meta: {
        origin: 'retry-timer',
        retryTimer: {
          rootId: retry.rootId,
          failedAttempt: retry.attempt,
          lastError: e.FailureDetails?.ErrorMessage ?? e.Reason,
          timedOut,
        },
      },
    });
    out.timers.push({ timerId: id, rootId: id, fireAt: fireAt.toISOString() });
    return out;
  }
  if (isType(e, EventType.TimerFired)) {
    const meta = find(EventType.TimerCreated, e.TimerId)?.meta;
    if (meta?.origin === 'retry-timer') {
      const rt = meta.retryTimer;
      const rootMeta = find(EventType.TaskScheduled, rt.rootId)?.meta;
      const root = rootMeta && rootMeta.origin === 'action' ? rootMeta.retry : undefined;
      if (!root || rt.failedAttempt >= root.options.maxNumberOfAttempts) return out;
      const id = allocate();
      const retry: RetryMeta = { ...root, attempt: rt.failedAttempt + 1 };
      out.events.push({
        event: event(now, { EventType: EventType.TaskScheduled, Name: root.name, Input: root.input }, id),
        meta: { origin: 'retry-attempt', retry, ...(rt.timedOut ? { synthetic: true } : {}) },
      });
      if (rt.timedOut) {
        const message =
          `the retry timeout of ${root.options.retryTimeoutInMilliseconds} ms for '${root.name}' passed after ` +
          `${rt.failedAttempt} attempt(s); last error: ${rt.lastError}`;
        out.enqueue.push(
          event(now, {
            EventType: EventType.TaskFailed,
            TaskScheduledId: id,
            Reason: message,
            Details: message,
            FailureDetails: { ErrorType: 'RetryTimeoutExceeded', ErrorMessage: message },
          }),
        );
      } else out.activities.push({ taskId: id, name: root.name, input: root.input });
      return out;
    }
    const long =
      meta && (meta.origin === 'action' || meta.origin === 'long-timer') ? meta.longTimer : undefined;
    if (long) {
      const finalMs = Date.parse(long.finalFireAt);
      if (finalMs <= now.getTime()) return out;
      const pieceMs =
        finalMs - now.getTime() > limits.maxShortTimerMs
          ? now.getTime() + limits.longTimerIntervalMs
          : finalMs;
      const id = allocate();
      out.events.push({
        event: event(now, { EventType: EventType.TimerCreated, FireAt: new Date(pieceMs).toISOString() }, id),
        meta: { origin: 'long-timer', longTimer: long },
      });
      out.timers.push({ timerId: id, rootId: long.rootId, fireAt: new Date(pieceMs).toISOString() });
    }
  }
  return out;
}
