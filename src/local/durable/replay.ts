import { RegisteredFunction } from '../functionsCore';
import { createInvocationContext } from '../invocation';
import { Logger } from '../logger';
import { Action, ActionType, describeAction } from './actions';
import { EventMeta, InstanceRow, StoredEvent } from './durableStore';
import { EventType, HistoryEvent, isType, parseJson } from './history';
import { TimerLimits } from './scheduling';
import { timeSpan } from './settings';

/** Replay schema the runtime announces: V3, the first with long timers (azure-functions-durable-js ReplaySchema). */
const upperSchemaVersion = 2;
/** Label that separates the message from the orchestrator state in OrchestrationFailureError (library). */
const outOfProcDataLabel = '\n\n$OutOfProcData$:';

/** The orchestrator state the library returns (`OrchestratorState`), as far as the runtime reads it. */
export interface OrchestratorStateLike {
  isDone: boolean;
  actions: unknown;
  output?: unknown;
  error?: string;
  customStatus?: unknown;
}

/** A scheduling event written for the orchestrator's own action (not for a retry or a long-timer piece). */
export type RecordedAction = StoredEvent & { meta: Extract<EventMeta, { origin: 'action' }> };

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Calls the captured orchestration handler with the trigger input the extension sends. */
export async function invokeOrchestrator(
  fn: RegisteredFunction,
  inst: InstanceRow,
  history: HistoryEvent[],
  logger: Logger,
  limits: TimerLimits,
): Promise<{ state?: OrchestratorStateLike; failure?: string }> {
  const trigger = {
    // A fresh copy: the library turns Timestamp strings into Dates in place.
    history: JSON.parse(JSON.stringify(history)) as unknown[],
    input: inst.input === null ? undefined : parseJson(inst.input),
    instanceId: inst.instanceId,
    isReplaying: history.some((h) => h.IsPlayed),
    parentInstanceId: undefined,
    upperSchemaVersion,
    upperSchemaVersionNew: upperSchemaVersion,
    maximumShortTimerDuration: timeSpan(limits.maxShortTimerMs / 1000),
    longRunningTimerIntervalDuration: timeSpan(limits.longTimerIntervalMs / 1000),
    defaultHttpAsyncRequestSleepTimeMillseconds: 30_000,
  };
  const context = createInvocationContext(fn, logger);
  try {
    const state = (await fn.callback(trigger, context)) as OrchestratorStateLike;
    return { state };
  } catch (err) {
    const text = messageOf(err);
    const cut = text.indexOf(outOfProcDataLabel);
    if (cut < 0) return { failure: `Orchestrator function '${fn.metadata.name}' failed: ${text}` };
    let state: OrchestratorStateLike | undefined;
    try {
      state = JSON.parse(text.slice(cut + outOfProcDataLabel.length)) as OrchestratorStateLike;
    } catch {
      state = undefined;
    }
    // The library puts the orchestrator's error in the state (`error`); the text before the label is
    // `String(orchestratorReturned)`, i.e. "false", in durable-functions 3.x. The extension reports `error`.
    const message = typeof state?.error === 'string' && state.error !== '' ? state.error : text.slice(0, cut);
    return { state, failure: `Orchestrator function '${fn.metadata.name}' failed: ${message}` };
  }
}

/**
 * The replayed actions must repeat the recorded ones in order (DurableTask.Core checks this on Azure; the
 * library does not): same kind, same activity name. Returns the failure message naming the first
 * differing action, or undefined.
 */
export function checkDeterminism(
  name: string,
  leaves: Action[],
  recorded: RecordedAction[],
): string | undefined {
  for (let k = 0; k < recorded.length; k++) {
    const r = recorded[k];
    const a = leaves[k];
    const e = r.event;
    const was = isType(e, EventType.TaskScheduled)
      ? `${r.meta.retry ? 'CallActivityWithRetry' : 'CallActivity'} '${e.Name}' (TaskScheduled, task id ${e.EventId})`
      : `CreateTimer (TimerCreated, task id ${e.EventId})`;
    const lead = `Non-deterministic orchestration '${name}': `;
    if (!a)
      return `${lead}the history recorded ${was} as action #${k + 1}, but the replay issued only ${leaves.length} action(s).`;
    const same = isType(e, EventType.TaskScheduled)
      ? (a.actionType === ActionType.CallActivity || a.actionType === ActionType.CallActivityWithRetry) &&
        (a.actionType === ActionType.CallActivityWithRetry) === Boolean(r.meta.retry) &&
        (a as { functionName: string }).functionName.toLowerCase() === e.Name.toLowerCase()
      : a.actionType === ActionType.CreateTimer;
    if (!same)
      return `${lead}action #${k + 1} of the replay is ${describeAction(a)}, but the history recorded ${was}.`;
  }
  return undefined;
}
