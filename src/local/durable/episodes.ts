import { RegisteredFunction } from '../functionsCore';
import { Logger } from '../logger';
import { ActionType, leafActions } from './actions';
import { DurableClock } from './clock';
import { DurableStore, RuntimeStatus, StoredEvent, terminalStatuses } from './durableStore';
import { ActionExecutor } from './executor';
import { event, EventType, FailureDetails, isType, jsonText } from './history';
import { checkDeterminism, invokeOrchestrator, RecordedAction } from './replay';
import { ActivityWork, followUps, NewTimer, scheduleAction, TimerLimits } from './scheduling';

export interface EpisodeDriverDeps {
  store: DurableStore;
  clock: DurableClock;
  logger: Logger;
  /** Orchestrator functions by lower-case name. */
  orchestrators: Map<string, RegisteredFunction>;
  limits: TimerLimits;
  executor: ActionExecutor;
  isStopping: () => boolean;
}

/**
 * Drives instances episode by episode: each episode hands the orchestrator the recorded history plus one
 * new message from the inbox, and writes what came of it (history, status, timers) in one transaction
 * before the executor starts the new work. Episodes of one instance run one after the other.
 */
export class EpisodeDriver {
  private readonly draining = new Map<string, Promise<void>>();
  private readonly rekick = new Set<string>();

  constructor(private readonly deps: EpisodeDriverDeps) {}

  /** Episode loops still running (stop and idle wait for them). */
  get inFlight(): Promise<void>[] {
    return [...this.draining.values()];
  }

  kick(instanceId: string): void {
    if (this.deps.isStopping()) return;
    if (this.draining.has(instanceId)) {
      this.rekick.add(instanceId);
      return;
    }
    const drain = (async () => {
      try {
        do {
          this.rekick.delete(instanceId);
          while (!this.deps.isStopping() && (await this.runEpisode(instanceId)));
        } while (this.rekick.has(instanceId) && !this.deps.isStopping());
      } catch (err) {
        this.deps.logger.error('durable', `${instanceId}: episode failed; retrying in 1 s`, err);
        this.deps.clock.schedule(new Date(this.deps.clock.nowMs() + 1000), () => this.kick(instanceId));
      } finally {
        this.draining.delete(instanceId);
      }
    })();
    this.draining.set(instanceId, drain);
  }

  /** Runs one episode for the instance's oldest message; false when none waits. */
  private async runEpisode(instanceId: string): Promise<boolean> {
    const { store, clock, logger, limits, executor } = this.deps;
    const msg = store.nextMessage(instanceId);
    if (!msg) return false;
    const inst = store.getInstance(instanceId);
    if (!inst || inst.executionId !== msg.executionId || terminalStatuses.has(inst.runtimeStatus)) {
      store.dropMessage(msg.id);
      return true;
    }
    const fn = this.deps.orchestrators.get(inst.name.toLowerCase());
    const past = store.history(instanceId);
    const now = clock.now();
    const nowIso = now.toISOString();
    let nextId =
      past.reduce(
        (max, h) =>
          isType(h.event, EventType.TaskScheduled) || isType(h.event, EventType.TimerCreated)
            ? Math.max(max, h.event.EventId)
            : max,
        -1,
      ) + 1;
    const allocate = () => nextId++;

    const fresh: StoredEvent[] = [
      { event: event(now, { EventType: EventType.OrchestratorStarted }) },
      { event: { ...msg.event, IsPlayed: false } },
    ];
    // The runtime's own answers to this event come first: the library numbers them before any task the
    // orchestrator code schedules while handling the same event (one event per episode keeps that order).
    const follow = followUps(msg.event, past, now, allocate, limits);
    fresh.push(...follow.events);

    const work: ActivityWork[] = [...follow.activities];
    const newTimers: NewTimer[] = [...follow.timers];
    const canceledTimerRoots: number[] = [];
    let status: RuntimeStatus = 'Running';
    let output: string | null | undefined;
    let customStatus: string | null = inst.customStatus;

    const outcome = fn
      ? await invokeOrchestrator(
          fn,
          inst,
          [...past.map((h) => ({ ...h.event, IsPlayed: true })), ...fresh.map((f) => f.event)],
          logger,
          limits,
        )
      : {
          failure: `The function '${inst.name}' doesn't exist, is disabled, or is not an orchestrator function.`,
        };
    let failure = outcome.failure;
    if (outcome.state)
      customStatus = outcome.state.customStatus === undefined ? null : jsonText(outcome.state.customStatus);

    if (!failure && outcome.state) {
      const leaves = leafActions(outcome.state.actions).filter(
        (a) => a.actionType !== ActionType.WaitForExternalEvent,
      );
      const recorded = [...past, ...fresh]
        .filter((h): h is RecordedAction => h.meta?.origin === 'action')
        .sort((a, b) => a.meta.index - b.meta.index);
      failure = checkDeterminism(inst.name, leaves, recorded);
      if (!failure) {
        leaves.slice(0, recorded.length).forEach((a, k) => {
          if (a.actionType === ActionType.CreateTimer && (a as { isCanceled?: boolean }).isCanceled) {
            canceledTimerRoots.push(recorded[k].event.EventId);
          }
        });
        for (let i = recorded.length; i < leaves.length && !failure; i++) {
          const scheduled = scheduleAction(leaves[i], i, now, allocate, limits);
          if ('unsupported' in scheduled) {
            failure = `The local durable runtime does not support ${scheduled.unsupported}; see docs/durable.md.`;
            break;
          }
          fresh.push(scheduled.stored);
          if (scheduled.activity) work.push(scheduled.activity);
          if (scheduled.timer) newTimers.push(scheduled.timer);
          if (scheduled.canceled) canceledTimerRoots.push(scheduled.stored.event.EventId);
        }
      }
    }

    fresh.push({ event: event(now, { EventType: EventType.OrchestratorCompleted }) });
    if (failure) {
      status = 'Failed';
      output = jsonText(failure);
      const details: FailureDetails = { ErrorType: 'OrchestrationFailure', ErrorMessage: failure };
      fresh.push({
        event: event(now, {
          EventType: EventType.ExecutionCompleted,
          OrchestrationStatus: 'Failed',
          FailureDetails: details,
        }),
      });
    } else if (outcome.state?.isDone) {
      status = 'Completed';
      output = jsonText(outcome.state.output);
      fresh.push({
        event: event(now, {
          EventType: EventType.ExecutionCompleted,
          OrchestrationStatus: 'Completed',
          Result: output,
        }),
      });
    }

    const written = store.writeEpisode({
      instanceId,
      executionId: inst.executionId,
      consumed: msg.id,
      events: fresh,
      status,
      output,
      customStatus,
      at: nowIso,
      newTimers,
      canceledTimerRoots,
      enqueue: follow.enqueue,
    });
    if (!written) return true;
    if (status === 'Completed' || status === 'Failed') {
      executor.forgetTimers(instanceId);
      const log = status === 'Failed' ? 'warn' : 'info';
      logger[log]('durable', `${inst.name} ${instanceId}: ${status}${failure ? `: ${failure}` : ''}`);
      return true;
    }
    for (const root of canceledTimerRoots) executor.cancelTimers(instanceId, root);
    for (const t of newTimers) executor.armTimer({ ...t, instanceId, executionId: inst.executionId });
    for (const w of work) executor.runActivity(inst, w);
    return true;
  }
}
