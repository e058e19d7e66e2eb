import { randomUUID } from 'node:crypto';
import { RegisteredFunction } from '../functionsCore';
import { Logger } from '../logger';
import { DurableClock } from './clock';
import { DurableStore, InstanceRow, RuntimeStatus, terminalStatuses } from './durableStore';
import { event, EventType, HistoryEvent, parseJson } from './history';

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

export interface InstancesDeps {
  store: DurableStore;
  clock: DurableClock;
  logger: Logger;
  /** Orchestrator functions by lower-case name. */
  orchestrators: Map<string, RegisteredFunction>;
  /** Wakes the instance's episodes: a message waits in its inbox. */
  kick: (instanceId: string) => void;
  /** Cancels the instance's armed timers (it runs no more episodes). */
  forgetTimers: (instanceId: string) => void;
}

/** `2024-05-01T10:00:00Z`: the extension's time format in status answers (seconds, UTC). */
const isoSeconds = (iso: string): string => iso.replace(/\.\d+Z$/, 'Z');

/**
 * The durable client's operations on instances (served over HTTP by webhooks.ts): start, status and
 * listing, external events, terminate, purge.
 */
export class Instances {
  constructor(private readonly deps: InstancesDeps) {}

  /**
   * Starts an instance of an orchestration with its input (JSON text or null).
   * @returns `exists` when a Pending or Running instance has this id; `unknown-function` for a name that is no orchestration
   */
  startNew(
    name: string,
    instanceId: string,
    inputText: string | null,
  ): 'created' | 'exists' | 'unknown-function' {
    const fn = this.deps.orchestrators.get(name.toLowerCase());
    if (!fn) return 'unknown-function';
    const now = this.deps.clock.now();
    const result = this.deps.store.createInstance(
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
      this.deps.logger.info('durable', `${fn.metadata.name} ${instanceId}: started`);
      this.deps.kick(instanceId);
    }
    return result;
  }

  status(
    instanceId: string,
    options: { showInput?: boolean; showHistory?: boolean } = {},
  ): StatusPayload | undefined {
    const inst = this.deps.store.getInstance(instanceId);
    return inst ? this.toStatus(inst, options) : undefined;
  }

  list(filter: Parameters<DurableStore['listInstances']>[0], showInput = true): StatusPayload[] {
    return this.deps.store.listInstances(filter).map((i) => this.toStatus(i, { showInput }));
  }

  /** Queues an external event (data as JSON text). */
  raiseEvent(instanceId: string, name: string, dataText: string | null): 'accepted' | 'not-found' | 'gone' {
    const inst = this.deps.store.getInstance(instanceId);
    if (!inst) return 'not-found';
    if (terminalStatuses.has(inst.runtimeStatus)) return 'gone';
    const queued = this.deps.store.enqueue(
      instanceId,
      inst.executionId,
      event(this.deps.clock.now(), {
        EventType: EventType.EventRaised,
        Name: name,
        Input: dataText ?? undefined,
      }),
    );
    if (!queued) return 'gone';
    this.deps.kick(instanceId);
    return 'accepted';
  }

  terminate(instanceId: string, reason: string): 'terminated' | 'not-found' | 'gone' {
    const result = this.deps.store.terminate(instanceId, reason, this.deps.clock.now());
    if (result === 'terminated') {
      this.deps.forgetTimers(instanceId);
      this.deps.logger.info('durable', `${instanceId}: terminated (${reason})`);
    }
    return result;
  }

  purge(instanceId: string): 'purged' | 'not-found' | 'running' {
    return this.deps.store.purge(instanceId);
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
        ? { historyEvents: this.deps.store.history(inst.instanceId).map((h) => h.event) }
        : {}),
    };
  }
}
