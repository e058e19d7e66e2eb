import { InvocationContext } from '@azure/functions';
import { RegisteredFunction } from '../functionsCore';
import { createInvocationContext } from '../invocation';
import { Logger } from '../logger';
import { DurableClock } from './clock';
import { DurableStore, InstanceRow, TimerRow } from './durableStore';
import { event, EventType, HistoryEvent, jsonText, parseJson } from './history';
import { ActivityWork } from './scheduling';

export interface ActionExecutorDeps {
  store: DurableStore;
  clock: DurableClock;
  logger: Logger;
  /** Activity functions by lower-case name. */
  activities: Map<string, RegisteredFunction>;
  isStopping: () => boolean;
  /** Wakes the instance's episodes: a result or a fired timer waits in its inbox. */
  kick: (instanceId: string) => void;
}

/**
 * Carries out what an episode scheduled: runs activities through the captured handlers and arms timers on
 * the clock. Results and fired timers go to the instance's inbox, and the instance is kicked.
 */
export class ActionExecutor {
  private readonly running = new Set<Promise<void>>();
  private readonly timers = new Map<string, { rootId: number; cancel: () => void }>();

  constructor(private readonly deps: ActionExecutorDeps) {}

  /** Activities still running (stop and idle wait for them). */
  get inFlight(): Promise<void>[] {
    return [...this.running];
  }

  runActivity(inst: Pick<InstanceRow, 'instanceId' | 'executionId'>, work: ActivityWork): void {
    const { store, clock, logger } = this.deps;
    if (this.deps.isStopping()) return;
    const run = (async () => {
      const fn = this.deps.activities.get(work.name.toLowerCase());
      const runId = store.activityStarted(
        inst.instanceId,
        inst.executionId,
        work.taskId,
        work.name,
        new Date().toISOString(),
      );
      let result: HistoryEvent;
      let outcome: 'completed' | 'failed';
      try {
        if (!fn)
          throw new Error(
            `The function '${work.name}' doesn't exist, is disabled, or is not an activity function.`,
          );
        const context: InvocationContext = createInvocationContext(fn, logger);
        const value = await fn.callback(parseJson(work.input ?? null), context);
        result = event(clock.now(), {
          EventType: EventType.TaskCompleted,
          TaskScheduledId: work.taskId,
          Result: jsonText(value),
        });
        outcome = 'completed';
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        result = event(clock.now(), {
          EventType: EventType.TaskFailed,
          TaskScheduledId: work.taskId,
          Reason: `Activity function '${work.name}' failed: ${error.message}`,
          Details: error.stack ?? error.message,
          FailureDetails: {
            ErrorType: error.name || 'Error',
            ErrorMessage: error.message,
            StackTrace: error.stack,
          },
        });
        outcome = 'failed';
        logger.warn(
          'durable',
          `${inst.instanceId}: activity ${work.name} (task ${work.taskId}) failed: ${error.message}`,
        );
      }
      store.activityFinished(runId, outcome, new Date().toISOString(), {
        id: 0,
        instanceId: inst.instanceId,
        executionId: inst.executionId,
        event: result,
      });
      this.deps.kick(inst.instanceId);
    })();
    this.running.add(run);
    void run
      .catch((err: unknown) =>
        logger.error('durable', `${inst.instanceId}: activity ${work.name} could not be recorded`, err),
      )
      .finally(() => this.running.delete(run));
  }

  armTimer(t: TimerRow): void {
    const { store, clock } = this.deps;
    if (this.deps.isStopping()) return;
    const key = `${t.instanceId}\u0000${t.timerId}`;
    this.timers.get(key)?.cancel();
    const cancel = clock.schedule(new Date(t.fireAt), () => {
      this.timers.delete(key);
      if (this.deps.isStopping()) return;
      const fired = store.fireTimer(
        t.instanceId,
        t.timerId,
        event(clock.now(), { EventType: EventType.TimerFired, TimerId: t.timerId, FireAt: t.fireAt }),
      );
      if (fired) this.deps.kick(t.instanceId);
    });
    if (clock.nowMs() < Date.parse(t.fireAt)) this.timers.set(key, { rootId: t.rootId, cancel });
  }

  cancelTimers(instanceId: string, rootId: number): void {
    for (const [key, t] of this.timers) {
      if (key.startsWith(`${instanceId}\u0000`) && t.rootId === rootId) {
        t.cancel();
        this.timers.delete(key);
      }
    }
  }

  forgetTimers(instanceId: string): void {
    for (const [key, t] of this.timers) {
      if (key.startsWith(`${instanceId}\u0000`)) {
        t.cancel();
        this.timers.delete(key);
      }
    }
  }

  /** Drops the bookkeeping of armed timers once the clock has cleared them all (on stop). */
  clearTimers(): void {
    this.timers.clear();
  }
}
