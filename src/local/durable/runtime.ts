import { InvocationContext } from '@azure/functions';
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { FunctionsCore, RegisteredFunction } from '../functionsCore';
import { createInvocationContext } from '../invocation';
import { Logger } from '../logger';
import {
  Action,
  ActionType,
  activityInputOf,
  describeAction,
  fireAtOf,
  leafActions,
  RetryOptionsWire,
} from './actions';
import { DurableClock } from './clock';
import {
  DurableStore,
  EventMeta,
  InstanceRow,
  RetryMeta,
  RuntimeStatus,
  StoredEvent,
  terminalStatuses,
  TimerRow,
} from './durableStore';
import { event, EventType, FailureDetails, HistoryEvent, isType, jsonText } from './history';
import { durableKeyPattern, timeSpan } from './settings';

/** Where the extension's HTTP API lives on the function app's host (the client binding's rpcBaseUrl is below it). */
export const webhookPrefix = '/runtime/webhooks/durabletask/';
/**
 * First path segment of the client's own base URL, `{webhookPrefix}rpc/{key}/`: the library builds every
 * request from `rpcBaseUrl` with relative paths (query parameters of the base are dropped), so the system
 * key travels in the path there. See docs/durable.md.
 */
export const rpcSegment = 'rpc';

/** Replay schema the runtime announces: V3, the first with long timers (azure-functions-durable-js ReplaySchema). */
const upperSchemaVersion = 2;
/** Label that separates the message from the orchestrator state in OrchestrationFailureError (library). */
const outOfProcDataLabel = '\n\n$OutOfProcData$:';

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

/** The orchestrator state the library returns (`OrchestratorState`), as far as the runtime reads it. */
interface OrchestratorStateLike {
  isDone: boolean;
  actions: unknown;
  output?: unknown;
  error?: string;
  customStatus?: unknown;
}

/** The durable client binding data the extension hands a function (`OrchestrationClientInputData`). */
export interface ClientBindingData {
  taskHubName: string;
  creationUrls: Record<string, string>;
  managementUrls: Record<string, string>;
  baseUrl: string;
  requiredQueryStringParameters: string;
  rpcBaseUrl: string;
}

/** An instance's status as the extension's HTTP API reports it (`DurableOrchestrationStatus` JSON). */
export interface StatusPayload {
  name: string;
  instanceId: string;
  runtimeStatus: RuntimeStatus;
  input: unknown;
  customStatus: unknown;
  output: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  historyEvents?: HistoryEvent[];
}

interface ActivityWork {
  taskId: number;
  name: string;
  input?: string;
}

const parseJson = (text: string | null | undefined): unknown => {
  if (text === null || text === undefined || text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
};

/** `2024-05-01T10:00:00Z`: the extension's time format in status answers (seconds, UTC). */
const isoSeconds = (iso: string): string => iso.replace(/\.\d+Z$/, 'Z');

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** The delay before retry `k` (0 = after the first failure): DurableTask.Core RetryInterceptor.ComputeNextDelay. */
export function retryDelayMs(options: RetryOptionsWire, k: number): number {
  const backoff =
    options.backoffCoefficient && options.backoffCoefficient > 0 ? options.backoffCoefficient : 1;
  const delay = options.firstRetryIntervalInMilliseconds * backoff ** k;
  const max = options.maxRetryIntervalInMilliseconds;
  return max && max > 0 ? Math.min(delay, max) : delay;
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
 */
export class LocalDurableRuntime {
  readonly store: DurableStore;
  readonly clock: DurableClock;
  readonly hubName: string;
  private readonly maxShortTimerMs: number;
  private readonly longTimerIntervalMs: number;
  private readonly orchestrators = new Map<string, RegisteredFunction>();
  private readonly activities = new Map<string, RegisteredFunction>();
  private readonly draining = new Map<string, Promise<void>>();
  private readonly rekick = new Set<string>();
  private readonly running = new Set<Promise<void>>();
  private readonly timers = new Map<string, { rootId: number; cancel: () => void }>();
  private origin?: string;
  private stopping = false;
  private readonly key: string;

  constructor(
    core: FunctionsCore,
    private readonly logger: Logger,
    options: DurableRuntimeOptions,
  ) {
    this.store = new DurableStore(options.dataDir);
    this.hubName = options.hubName;
    this.maxShortTimerMs = (options.maxShortTimerSeconds ?? 6 * 86400) * 1000;
    this.longTimerIntervalMs = (options.longTimerIntervalSeconds ?? 3 * 86400) * 1000;
    this.clock = options.clock ?? new DurableClock('system');
    if (options.key !== undefined && !durableKeyPattern.test(options.key))
      throw new Error(`the durable system key must match ${durableKeyPattern}`);
    this.key = options.key ?? randomBytes(32).toString('base64url');
    if (this.clock.mode === 'manual') {
      // A manual clock keeps the time it was moved to across restarts of the host.
      const saved = Number(this.store.getSetting('clockOffsetMs') ?? '0');
      if (saved > this.clock.offset) this.clock.advance(saved - this.clock.offset);
    }
    for (const fn of core.byTrigger('orchestrationTrigger'))
      this.orchestrators.set(fn.metadata.name.toLowerCase(), fn);
    for (const fn of core.byTrigger('activityTrigger'))
      this.activities.set(fn.metadata.name.toLowerCase(), fn);
    this.supplyClientBindings(core);
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
    for (const t of this.store.pendingTimers()) this.armTimer(t);
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
            this.runActivity(inst, { taskId: h.event.EventId, name: h.event.Name, input: h.event.Input });
        }
      }
    }
    for (const id of this.store.instancesWithMessages()) this.kick(id);
  }

  /** Stops taking work, lets episodes and activities in flight finish (their results are kept), closes the hub. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.clock.clear();
    this.timers.clear();
    while (this.draining.size || this.running.size) {
      await Promise.allSettled([...this.draining.values(), ...this.running]);
    }
    this.store.close();
  }

  /** Resolves once no episode or activity runs and no message waits (tests step time with this). */
  async idle(): Promise<void> {
    for (;;) {
      const busy =
        this.draining.size > 0 || this.running.size > 0 || this.store.instancesWithMessages().length > 0;
      if (!busy) return;
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  // ---- the durable client's operations (served over HTTP by webhooks.ts) ----

  /** True when `candidate` is the system key (compared in constant time). */
  isKey(candidate: string | null | undefined): boolean {
    if (typeof candidate !== 'string') return false;
    const a = Buffer.from(candidate);
    const b = Buffer.from(this.key);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /**
   * The binding data of a `durableClient` input, pointing at this host's webhook routes, with the system
   * key as the extension gives it: `code` in every management and creation URL and in
   * `requiredQueryStringParameters`, and in the path of `rpcBaseUrl` (the library's requests start there).
   */
  clientData(origin = this.requireOrigin()): ClientBindingData {
    const base = `${origin}${webhookPrefix}`.replace(/\/$/, '');
    const q = `taskHub=${encodeURIComponent(this.hubName)}&connection=Storage&code=${this.key}`;
    const instance = `${base}/instances/INSTANCEID`;
    return {
      taskHubName: this.hubName,
      creationUrls: {
        createNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?${q}`,
        createAndWaitOnNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&${q}`,
      },
      managementUrls: {
        id: 'INSTANCEID',
        statusQueryGetUri: `${instance}?${q}`,
        sendEventPostUri: `${instance}/raiseEvent/{eventName}?${q}`,
        terminatePostUri: `${instance}/terminate?reason={text}&${q}`,
        rewindPostUri: `${instance}/rewind?reason={text}&${q}`,
        purgeHistoryDeleteUri: `${instance}?${q}`,
        restartPostUri: `${instance}/restart?${q}`,
        suspendPostUri: `${instance}/suspend?reason={text}&${q}`,
        resumePostUri: `${instance}/resume?reason={text}&${q}`,
      },
      baseUrl: base,
      requiredQueryStringParameters: `code=${this.key}`,
      rpcBaseUrl: `${origin}${webhookPrefix}${rpcSegment}/${this.key}/`,
    };
  }

  /** The management URLs of one instance (`createCheckStatusResponse`'s body). */
  managementPayload(instanceId: string, origin?: string): Record<string, string> {
    const urls = this.clientData(origin).managementUrls;
    return Object.fromEntries(
      Object.entries(urls).map(([k, v]) => [k, v.replace('INSTANCEID', encodeURIComponent(instanceId))]),
    );
  }

  /**
   * Starts an instance of an orchestration with its input (JSON text or null).
   * @returns `exists` when a Pending or Running instance has this id; `unknown-function` for a name that is no orchestration
   */
  startNew(
    name: string,
    instanceId: string,
    inputText: string | null,
  ): 'created' | 'exists' | 'unknown-function' {
    const fn = this.orchestrators.get(name.toLowerCase());
    if (!fn) return 'unknown-function';
    const now = this.clock.now();
    const result = this.store.createInstance(
      {
        instanceId,
        name: fn.metadata.name,
        executionId: randomUUID(),
        runtimeStatus: 'Pending',
        input: inputText,
        createdTime: now.toISOString(),
        lastUpdatedTime: now.toISOString(),
      },
      event(now, {
        EventType: EventType.ExecutionStarted,
        Name: fn.metadata.name,
        Input: inputText ?? undefined,
      }),
    );
    if (result === 'created') {
      this.logger.info('durable', `${fn.metadata.name} ${instanceId}: started`);
      this.kick(instanceId);
    }
    return result;
  }

  status(
    instanceId: string,
    options: { showInput?: boolean; showHistory?: boolean } = {},
  ): StatusPayload | undefined {
    const inst = this.store.getInstance(instanceId);
    return inst ? this.toStatus(inst, options) : undefined;
  }

  list(filter: Parameters<DurableStore['listInstances']>[0], showInput = true): StatusPayload[] {
    return this.store.listInstances(filter).map((i) => this.toStatus(i, { showInput }));
  }

  /** Queues an external event (data as JSON text). */
  raiseEvent(instanceId: string, name: string, dataText: string | null): 'accepted' | 'not-found' | 'gone' {
    const inst = this.store.getInstance(instanceId);
    if (!inst) return 'not-found';
    if (terminalStatuses.has(inst.runtimeStatus)) return 'gone';
    const queued = this.store.enqueue(
      instanceId,
      inst.executionId,
      event(this.clock.now(), { EventType: EventType.EventRaised, Name: name, Input: dataText ?? undefined }),
    );
    if (!queued) return 'gone';
    this.kick(instanceId);
    return 'accepted';
  }

  terminate(instanceId: string, reason: string): 'terminated' | 'not-found' | 'gone' {
    const result = this.store.terminate(instanceId, reason, this.clock.now());
    if (result === 'terminated') {
      this.forgetTimers(instanceId);
      this.logger.info('durable', `${instanceId}: terminated (${reason})`);
    }
    return result;
  }

  purge(instanceId: string): 'purged' | 'not-found' | 'running' {
    return this.store.purge(instanceId);
  }

  /** Moves a manual clock forward and persists its offset, so a restarted host keeps the time. */
  advanceClock(ms: number): Date {
    this.clock.advance(ms);
    if (this.clock.mode === 'manual') this.store.setSetting('clockOffsetMs', String(this.clock.offset));
    return this.clock.now();
  }

  // ---- episodes ----

  private kick(instanceId: string): void {
    if (this.stopping) return;
    if (this.draining.has(instanceId)) {
      this.rekick.add(instanceId);
      return;
    }
    const drain = (async () => {
      try {
        do {
          this.rekick.delete(instanceId);
          while (!this.stopping && (await this.runEpisode(instanceId)));
        } while (this.rekick.has(instanceId) && !this.stopping);
      } catch (err) {
        this.logger.error('durable', `${instanceId}: episode failed; retrying in 1 s`, err);
        this.clock.schedule(new Date(this.clock.nowMs() + 1000), () => this.kick(instanceId));
      } finally {
        this.draining.delete(instanceId);
      }
    })();
    this.draining.set(instanceId, drain);
  }

  /** Runs one episode for the instance's oldest message; false when none waits. */
  private async runEpisode(instanceId: string): Promise<boolean> {
    const msg = this.store.nextMessage(instanceId);
    if (!msg) return false;
    const inst = this.store.getInstance(instanceId);
    if (!inst || inst.executionId !== msg.executionId || terminalStatuses.has(inst.runtimeStatus)) {
      this.store.dropMessage(msg.id);
      return true;
    }
    const fn = this.orchestrators.get(inst.name.toLowerCase());
    const past = this.store.history(instanceId);
    const now = this.clock.now();
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
    const follow = this.followUps(msg.event, past, now, allocate);
    fresh.push(...follow.events);

    const work: ActivityWork[] = [...follow.activities];
    const newTimers: Omit<TimerRow, 'instanceId' | 'executionId'>[] = [...follow.timers];
    const canceledTimerRoots: number[] = [];
    let status: RuntimeStatus = 'Running';
    let output: string | null | undefined;
    let customStatus: string | null = inst.customStatus;

    const outcome = fn
      ? await this.invokeOrchestrator(fn, inst, [
          ...past.map((h) => ({ ...h.event, IsPlayed: true })),
          ...fresh.map((f) => f.event),
        ])
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
        .filter(
          (h): h is StoredEvent & { meta: Extract<EventMeta, { origin: 'action' }> } =>
            h.meta?.origin === 'action',
        )
        .sort((a, b) => a.meta.index - b.meta.index);
      failure = this.checkDeterminism(inst.name, leaves, recorded);
      if (!failure) {
        leaves.slice(0, recorded.length).forEach((a, k) => {
          if (a.actionType === ActionType.CreateTimer && (a as { isCanceled?: boolean }).isCanceled) {
            canceledTimerRoots.push(recorded[k].event.EventId);
          }
        });
        for (let i = recorded.length; i < leaves.length && !failure; i++) {
          const scheduled = this.schedule(leaves[i], i, now, allocate);
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

    const written = this.store.writeEpisode({
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
      this.forgetTimers(instanceId);
      const log = status === 'Failed' ? 'warn' : 'info';
      this.logger[log]('durable', `${inst.name} ${instanceId}: ${status}${failure ? `: ${failure}` : ''}`);
      return true;
    }
    for (const root of canceledTimerRoots) this.cancelTimers(instanceId, root);
    for (const t of newTimers) this.armTimer({ ...t, instanceId, executionId: inst.executionId });
    for (const w of work) this.runActivity(inst, w);
    return true;
  }

  /** Calls the captured orchestration handler with the trigger input the extension sends. */
  private async invokeOrchestrator(
    fn: RegisteredFunction,
    inst: InstanceRow,
    history: HistoryEvent[],
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
      maximumShortTimerDuration: timeSpan(this.maxShortTimerMs / 1000),
      longRunningTimerIntervalDuration: timeSpan(this.longTimerIntervalMs / 1000),
      defaultHttpAsyncRequestSleepTimeMillseconds: 30_000,
    };
    const context = createInvocationContext(fn, this.logger);
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
      const message =
        typeof state?.error === 'string' && state.error !== '' ? state.error : text.slice(0, cut);
      return { state, failure: `Orchestrator function '${fn.metadata.name}' failed: ${message}` };
    }
  }

  /**
   * The replayed actions must repeat the recorded ones in order (DurableTask.Core checks this on Azure; the
   * library does not): same kind, same activity name. Returns the failure message naming the first
   * differing action, or undefined.
   */
  private checkDeterminism(
    name: string,
    leaves: Action[],
    recorded: (StoredEvent & { meta: Extract<EventMeta, { origin: 'action' }> })[],
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

  /** Turns one new action into its scheduling event (and the activity to run or timer to arm). */
  private schedule(
    a: Action,
    index: number,
    now: Date,
    allocate: () => number,
  ):
    | { unsupported: string }
    | {
        stored: StoredEvent;
        activity?: ActivityWork;
        timer?: Omit<TimerRow, 'instanceId' | 'executionId'>;
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
          event: event(
            now,
            { EventType: EventType.TaskScheduled, Name: call.functionName, Input: input },
            id,
          ),
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
      const long = finalAt.getTime() - now.getTime() > this.maxShortTimerMs;
      const piece = long ? new Date(now.getTime() + this.longTimerIntervalMs) : finalAt;
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
  private followUps(
    e: HistoryEvent,
    past: StoredEvent[],
    now: Date,
    allocate: () => number,
  ): {
    events: StoredEvent[];
    activities: ActivityWork[];
    timers: Omit<TimerRow, 'instanceId' | 'executionId'>[];
    enqueue: HistoryEvent[];
  } {
    const out = {
      events: [] as StoredEvent[],
      activities: [] as ActivityWork[],
      timers: [] as Omit<TimerRow, 'instanceId' | 'executionId'>[],
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
      const fireAt = new Date(
        now.getTime() + (timedOut ? 0 : retryDelayMs(retry.options, retry.attempt - 1)),
      );
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
          finalMs - now.getTime() > this.maxShortTimerMs ? now.getTime() + this.longTimerIntervalMs : finalMs;
        const id = allocate();
        out.events.push({
          event: event(
            now,
            { EventType: EventType.TimerCreated, FireAt: new Date(pieceMs).toISOString() },
            id,
          ),
          meta: { origin: 'long-timer', longTimer: long },
        });
        out.timers.push({ timerId: id, rootId: long.rootId, fireAt: new Date(pieceMs).toISOString() });
      }
    }
    return out;
  }

  // ---- activities and timers ----

  private runActivity(inst: Pick<InstanceRow, 'instanceId' | 'executionId'>, work: ActivityWork): void {
    if (this.stopping) return;
    const run = (async () => {
      const fn = this.activities.get(work.name.toLowerCase());
      const runId = this.store.activityStarted(
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
        const context: InvocationContext = createInvocationContext(fn, this.logger);
        const value = await fn.callback(parseJson(work.input ?? null), context);
        result = event(this.clock.now(), {
          EventType: EventType.TaskCompleted,
          TaskScheduledId: work.taskId,
          Result: jsonText(value),
        });
        outcome = 'completed';
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        result = event(this.clock.now(), {
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
        this.logger.warn(
          'durable',
          `${inst.instanceId}: activity ${work.name} (task ${work.taskId}) failed: ${error.message}`,
        );
      }
      this.store.activityFinished(runId, outcome, new Date().toISOString(), {
        id: 0,
        instanceId: inst.instanceId,
        executionId: inst.executionId,
        event: result,
      });
      this.kick(inst.instanceId);
    })();
    this.running.add(run);
    void run
      .catch((err: unknown) =>
        this.logger.error('durable', `${inst.instanceId}: activity ${work.name} could not be recorded`, err),
      )
      .finally(() => this.running.delete(run));
  }

  private armTimer(t: TimerRow): void {
    if (this.stopping) return;
    const key = `${t.instanceId}\u0000${t.timerId}`;
    this.timers.get(key)?.cancel();
    const cancel = this.clock.schedule(new Date(t.fireAt), () => {
      this.timers.delete(key);
      if (this.stopping) return;
      const fired = this.store.fireTimer(
        t.instanceId,
        t.timerId,
        event(this.clock.now(), { EventType: EventType.TimerFired, TimerId: t.timerId, FireAt: t.fireAt }),
      );
      if (fired) this.kick(t.instanceId);
    });
    if (this.clock.nowMs() < Date.parse(t.fireAt)) this.timers.set(key, { rootId: t.rootId, cancel });
  }

  private cancelTimers(instanceId: string, rootId: number): void {
    for (const [key, t] of this.timers) {
      if (key.startsWith(`${instanceId}\u0000`) && t.rootId === rootId) {
        t.cancel();
        this.timers.delete(key);
      }
    }
  }

  private forgetTimers(instanceId: string): void {
    for (const [key, t] of this.timers) {
      if (key.startsWith(`${instanceId}\u0000`)) {
        t.cancel();
        this.timers.delete(key);
      }
    }
  }

  private toStatus(
    inst: InstanceRow,
    options: { showInput?: boolean; showHistory?: boolean },
  ): StatusPayload {
    return {
      name: inst.name,
      instanceId: inst.instanceId,
      runtimeStatus: inst.runtimeStatus,
      input: options.showInput === false ? null : parseJson(inst.input),
      customStatus: parseJson(inst.customStatus),
      output: parseJson(inst.output),
      createdTime: isoSeconds(inst.createdTime),
      lastUpdatedTime: isoSeconds(inst.lastUpdatedTime),
      ...(options.showHistory
        ? { historyEvents: this.store.history(inst.instanceId).map((h) => h.event) }
        : {}),
    };
  }

  private requireOrigin(): string {
    if (!this.origin) throw new Error('the durable runtime has not been started');
    return this.origin;
  }

  /**
   * The Functions host gives a function with a `durableClient` input its binding data with every
   * invocation; the local host does the same by wrapping those functions' handlers.
   */
  private supplyClientBindings(core: FunctionsCore): void {
    for (const fn of core.functions.values()) {
      const names = Object.entries(fn.metadata.bindings)
        .filter(([, b]) => b.direction === 'in' && /^(durableClient|orchestrationClient)$/i.test(b.type))
        .map(([name]) => name);
      if (names.length === 0) continue;
      const original = fn.callback;
      fn.callback = (trigger: unknown, context: unknown, ...rest: unknown[]) => {
        const ctx = context as InvocationContext;
        for (const name of names) ctx.extraInputs.set(name, this.clientData());
        return original(trigger, context, ...rest);
      };
    }
  }
}
