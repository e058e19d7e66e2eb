import { FunctionsCore, RegisteredFunction } from '../functionsCore';
import { Logger } from '../logger';
import { ClientBinding, ClientBindingData, managementUrlsOf, supplyClientBindings } from './clientBinding';
import { DurableClock } from './clock';
import { DurableStore } from './durableStore';
import { EpisodeDriver } from './episodes';
import { ActionExecutor } from './executor';
import { EventType, isType } from './history';
import { Instances, StatusPayload } from './instances';
import { TimerLimits } from './scheduling';

export { rpcSegment, webhookPrefix } from './clientBinding';
export type { ClientBindingData } from './clientBinding';
export type { StatusPayload } from './instances';
export { retryDelayMs } from './scheduling';

export interface DurableRuntimeOptions {
  dataDir: string;
  hubName: string;
  clock?: DurableClock;
  /** Longest single timer, in seconds (default 6 days). */
  maxShortTimerSeconds?: number;
  /** Length of each piece of a longer timer, in seconds (default 3 days). */
  longTimerIntervalSeconds?: number;
  /**
   * The system key every webhook request must carry (`code`, as the extension's `durabletask_extension`
   * key); matches `durableKeyPattern`. Random for each run when not given.
   */
  key?: string;
}

/**
 * A local stand-in for the Durable Functions extension that drives the `durable-functions` library's own
 * replay engine: for each message to an instance it builds the orchestration trigger input the extension
 * sends (the full history, the new events last), calls the orchestration handler the host captured from
 * `df.app.orchestration`, and turns the returned actions into history: activities (run through the
 * captured activity handlers), retries as DurableTask.Core's RetryInterceptor does them, timers (chained
 * when longer than the maximum short timer), external events. Everything is persisted in `durable.db`
 * under DATA_DIR, so a restarted host resumes each instance and never runs a completed activity again.
 * See docs/durable.md for the contract with the library and what is not supported.
 *
 * The parts: episodes.ts drives the replay (with replay.ts, the call into the library, and scheduling.ts,
 * actions and follow-ups turned into history), executor.ts runs activities and timers, instances.ts and
 * clientBinding.ts serve the durable client.
 */
export class LocalDurableRuntime {
  readonly store: DurableStore;
  readonly clock: DurableClock;
  readonly hubName: string;
  private readonly limits: TimerLimits;
  private readonly orchestrators = new Map<string, RegisteredFunction>();
  private readonly activities = new Map<string, RegisteredFunction>();
  private readonly binding: ClientBinding;
  private readonly executor: ActionExecutor;
  private readonly episodes: EpisodeDriver;
  private readonly instances: Instances;
  private origin?: string;
  private stopping = false;

  constructor(core: FunctionsCore, logger: Logger, options: DurableRuntimeOptions) {
    this.store = new DurableStore(options.dataDir);
    this.hubName = options.hubName;
    this.limits = {
      maxShortTimerMs: (options.maxShortTimerSeconds ?? 6 * 86400) * 1000,
      longTimerIntervalMs: (options.longTimerIntervalSeconds ?? 3 * 86400) * 1000,
    };
    this.clock = options.clock ?? new DurableClock('system');
    this.binding = new ClientBinding(this.hubName, options.key);
    if (this.clock.mode === 'manual') {
      // A manual clock keeps the time it was moved to across restarts of the host.
      const saved = Number(this.store.getSetting('clockOffsetMs') ?? '0');
      if (saved > this.clock.offset) this.clock.advance(saved - this.clock.offset);
    }
    for (const fn of core.byTrigger('orchestrationTrigger'))
      this.orchestrators.set(fn.metadata.name.toLowerCase(), fn);
    for (const fn of core.byTrigger('activityTrigger'))
      this.activities.set(fn.metadata.name.toLowerCase(), fn);
    const isStopping = () => this.stopping;
    const kick = (instanceId: string) => this.episodes.kick(instanceId);
    const { store, clock, orchestrators, activities, limits } = this;
    this.executor = new ActionExecutor({ store, clock, logger, activities, isStopping, kick });
    this.episodes = new EpisodeDriver({
      store,
      clock,
      logger,
      orchestrators,
      limits,
      executor: this.executor,
      isStopping,
    });
    this.instances = new Instances({
      store,
      clock,
      logger,
      orchestrators,
      kick,
      forgetTimers: (instanceId) => this.executor.forgetTimers(instanceId),
    });
    supplyClientBindings(core, () => this.clientData());
  }

  /** Names of the orchestrations and activities it runs. */
  get functionNames(): { orchestrations: string[]; activities: string[] } {
    return {
      orchestrations: [...this.orchestrators.values()].map((f) => f.metadata.name),
      activities: [...this.activities.values()].map((f) => f.metadata.name),
    };
  }

  /**
   * Starts serving: `origin` is where the host listens (`http://127.0.0.1:7071`), for the client binding's
   * URLs. Re-arms every pending timer, re-runs every activity that was scheduled but has no result yet (a
   * run cut short by a crash), and processes every message waiting in the hub.
   */
  start(origin: string): void {
    this.origin = origin.replace(/\/+$/, '');
    for (const t of this.store.pendingTimers()) this.executor.armTimer(t);
    for (const inst of this.store.activeInstances()) {
      const history = this.store.history(inst.instanceId);
      const done = new Set<number>();
      for (const e of [
        ...history.map((h) => h.event),
        ...this.store.messages(inst.instanceId).map((m) => m.event),
      ]) {
        if (isType(e, EventType.TaskCompleted) || isType(e, EventType.TaskFailed))
          done.add(e.TaskScheduledId);
      }
      for (const h of history) {
        if (isType(h.event, EventType.TaskScheduled) && !done.has(h.event.EventId)) {
          const synthetic = h.meta?.origin === 'retry-attempt' && h.meta.synthetic;
          if (!synthetic)
            this.executor.runActivity(inst, {
              taskId: h.event.EventId,
              name: h.event.Name,
              input: h.event.Input,
            });
        }
      }
    }
    for (const id of this.store.instancesWithMessages()) this.episodes.kick(id);
  }

  /** Stops taking work, lets episodes and activities in flight finish (their results are kept), closes the hub. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.clock.clear();
    this.executor.clearTimers();
    while (this.episodes.inFlight.length || this.executor.inFlight.length) {
      await Promise.allSettled([...this.episodes.inFlight, ...this.executor.inFlight]);
    }
    this.store.close();
  }

  /** Resolves once no episode or activity runs and no message waits (tests step time with this). */
  async idle(): Promise<void> {
    for (;;) {
      const busy =
        this.episodes.inFlight.length > 0 ||
        this.executor.inFlight.length > 0 ||
        this.store.instancesWithMessages().length > 0;
      if (!busy) return;
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  // ---- the durable client's operations (served over HTTP by webhooks.ts); documented where implemented ----

  isKey(candidate: string | null | undefined): boolean {
    return this.binding.isKey(candidate);
  }

  clientData(origin = this.requireOrigin()): ClientBindingData {
    return this.binding.data(origin);
  }

  managementPayload(instanceId: string, origin?: string): Record<string, string> {
    return managementUrlsOf(this.clientData(origin), instanceId);
  }

  startNew(
    name: string,
    instanceId: string,
    inputText: string | null,
  ): 'created' | 'exists' | 'unknown-function' {
    return this.instances.startNew(name, instanceId, inputText);
  }

  status(
    instanceId: string,
    options: { showInput?: boolean; showHistory?: boolean } = {},
  ): StatusPayload | undefined {
    return this.instances.status(instanceId, options);
  }

  list(filter: Parameters<DurableStore['listInstances']>[0], showInput = true): StatusPayload[] {
    return this.instances.list(filter, showInput);
  }

  raiseEvent(instanceId: string, name: string, dataText: string | null): 'accepted' | 'not-found' | 'gone' {
    return this.instances.raiseEvent(instanceId, name, dataText);
  }

  terminate(instanceId: string, reason: string): 'terminated' | 'not-found' | 'gone' {
    return this.instances.terminate(instanceId, reason);
  }

  purge(instanceId: string): 'purged' | 'not-found' | 'running' {
    return this.instances.purge(instanceId);
  }

  /** Moves a manual clock forward and persists its offset, so a restarted host keeps the time. */
  advanceClock(ms: number): Date {
    this.clock.advance(ms);
    if (this.clock.mode === 'manual') this.store.setSetting('clockOffsetMs', String(this.clock.offset));
    return this.clock.now();
  }

  private requireOrigin(): string {
    if (!this.origin) throw new Error('the durable runtime has not been started');
    return this.origin;
  }
}
