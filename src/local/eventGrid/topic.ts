import {
  Agent as HttpAgent,
  ClientRequest,
  IncomingMessage,
  request as httpRequest,
  ServerResponse,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { timingSafeEqual } from 'node:crypto';
import { eventGridLimits, jsonBytes } from '../../ports/cloudEvents';
import { DeadLetterStore } from '../../ports/deadLetters';
import { SqliteDatabase } from '../../adapters/sqlite/database';
import { FunctionsCore, RegisteredFunction } from '../functionsCore';
import { readBody } from '../httpServer';
import { createInvocationContext } from '../invocation';
import { Logger } from '../logger';
import { instrument } from '../../shared/instruments';
import { attributeNames, metricDefinitions } from '../../shared/telemetryNames';
import { cloudEventJson, CloudEventJson } from './cloudEventFormat';
import { Delivery, DeliveryQueue, NewEvent, Settlement } from './deliveries';
import { DeliveryAttempt, DeliveryLog, DeliveryLogOptions } from './deliveryLog';
import { noRetryStatuses, retryDelayMs, WebhookSubscription } from './subscriptions';

export interface LocalTopicOptions {
  key: string;
  subscriptions: WebhookSubscription[];
  /** Multiplies Event Grid's retry delays (1 = the real schedule). */
  retryScale: number;
  pollMs: number;
  /** How long a webhook may take to answer, in ms (Event Grid waits 30 s). */
  deliveryTimeoutMs?: number;
  /** Bounds of the delivery log (default: the newest 20,000 attempts). */
  deliveryLog?: DeliveryLogOptions;
}

/** One subscription's figures in {@link TopicStats}. */
export interface SubscriptionStats {
  name: string;
  /** Deliveries queued: not yet attempted, in flight, or waiting for a retry. */
  pending: number;
  /** Attempts that delivered in the hour before the stats were taken (Event Grid's Delivered Events). */
  deliveredLastHour: number;
  /** Attempts that failed in that hour, retried or dead-lettered after (Event Grid's Delivery Failed Events). */
  failedAttemptsLastHour: number;
  /** Dead letters of this subscription now in the dead-letter store (channel `eventgrid-<name>`). */
  deadLettered: number;
}

/** The topic's delivery figures: per subscription, and their sums. */
export interface TopicStats {
  subscriptions: SubscriptionStats[];
  pending: number;
  failedAttemptsLastHour: number;
  deadLettered: number;
}

type Outcome = { ok: true; status?: number } | { ok: false; status?: number; error: string };

/**
 * How long a count of dead letters is reused, in ms: counting lists (reads) every letter of the channel, the
 * one way the dead-letter store offers. The topic's own dead-lettering drops the counts at once; letters
 * removed from outside (a replay, by hand) show within this time.
 */
const deadLetterCountTtlMs = 10_000;

/** A webhook subscriber, with its endpoint parsed once and its keep-alive agent. */
interface WebhookTarget {
  kind: 'webhook';
  name: string;
  sub: WebhookSubscription;
  maxDeliveryAttempts: number;
  ttlMinutes: number;
  url: URL;
  agent: HttpAgent;
  /** `aeg-subscription-name`: the name in capitals, as Event Grid sends it. */
  headerName: string;
}

/** A subscriber: a captured eventGrid-trigger function, or a webhook from the subscriptions file. */
type Target =
  | {
      kind: 'function';
      name: string;
      fn: RegisteredFunction;
      maxDeliveryAttempts: number;
      ttlMinutes: number;
    }
  | WebhookTarget;

/**
 * The delivery state of one subscription. Its first attempts are read once, in acceptance order, by a cursor
 * over an index of the queue (`cursor`: the last id read). A first attempt read is `ready` unless an earlier
 * one of its ordering key is ready or in flight (`keys` holds, per such key, those waiting behind it, in
 * order); when that one's attempt ends, whatever its outcome, the next of the key becomes ready. So one
 * order's events go one at a time, in order, and every step is O(1). Failed deliveries wait in the queue for
 * their retry, read when due (`retryAt`) and started before the first attempts; a retry holds up nothing.
 */
interface Lane {
  name: string;
  /** Undefined for deliveries queued for a subscription that no longer exists: they are dropped. */
  target: Target | undefined;
  inFlight: number;
  cursor: number;
  /** The last read reached the end of the lane's first attempts: none to read until more are accepted. */
  caughtUp: boolean;
  ready: Fifo<Delivery>;
  keys: Map<string, Delivery[]>;
  /** First attempts read and not started (ready or waiting behind their key). */
  waiting: number;
  /** Due retries read and not started. */
  retries: Delivery[];
  retriesInFlight: Set<number>;
  /** When to look for due retries next, in ms since the epoch (Infinity: none is waiting). */
  retryAt: number;
}

const origin = 'eventgrid.azure.net';
const utf8 = new TextDecoder('utf-8', { fatal: true });
const maxConcurrentDeliveries = 32;
/** A slow subscriber holds at most this many deliveries, so it cannot starve the others. */
const maxConcurrentPerSubscription = 4;
/** First attempts read from the queue at a time, per subscription. */
const readBatch = 500;
/**
 * Most first attempts held in memory per subscription, read and not started (each with its event, when that is
 * at most 16 KB: see `inlineEventBytes`): past it, a subscription whose read first attempts all wait behind a
 * few ordering keys reads no further until they go.
 */
const maxWaitingPerSubscription = 5_000;
/**
 * Outcomes written in one transaction at most, and how long an outcome waits for others before it is written.
 * Much of a transaction's cost is its commit, which writes every page it changed: an outcome (a delivery deleted
 * and a log row) cost 25 µs of CPU in transactions of 20, 13 µs in transactions of 500, on our machines.
 */
const settleBatch = 500;
const settleDelayMs = 25;

function eventGridError(res: ServerResponse, status: number, code: string, message: string): number {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { code, message } }));
  return status;
}

const sameKey = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/**
 * The local Event Grid topic (input schema CloudEventSchemaV1_0), mounted on the local host at
 * `/eventgrid/api/events`. It checks what Event Grid checks (the `aeg-sas-key` key, the CloudEvents
 * batch format, 1 MB per event and per request, 5,000 events), stores one delivery per matching
 * subscription durably, answers 200, and delivers: to the captured eventGrid-trigger functions and to
 * webhook subscribers, with the CloudEvents webhook handshake, Event Grid's retry schedule and
 * dead-lettering to the dead-letter store (channel `eventgrid-<subscription>`). Every attempt's outcome is
 * recorded in the delivery log (./deliveryLog.ts) in the transaction that updates the queue, for
 * {@link attemptsOf} and {@link stats} (the local-only routes of ./monitoringRoutes.ts).
 *
 * Delivery costs the same per event whatever the backlog (see {@link Lane}): each event is stored once for all
 * its deliveries, the queue is read by ranges of its indexes in batches (the events with them), webhooks are
 * called over keep-alive connections, at most 4 per subscription, and outcomes are written in batches, one
 * transaction each (within {@link settleDelayMs}). An outcome not yet written when the process dies leaves its
 * delivery queued: it is delivered again after the restart (at least once, as Event Grid delivers) and logged
 * then.
 */
export class LocalEventGridTopic {
  private readonly queue: DeliveryQueue;
  private readonly log: DeliveryLog;
  private deadLetterCounts?: { at: number; counts: Promise<Map<string, number>> };
  private readonly targets = new Map<string, Target>();
  private readonly lanes = new Map<string, Lane>();
  private readonly laneList: Lane[] = [];
  /** The lane the next pump looks at first. */
  private nextLane = 0;
  private readonly validated = new Set<string>();
  private readonly handshakes = new Map<string, Promise<string | undefined>>();
  private readonly inFlight = new Map<number, Promise<void>>();
  /** Webhook requests under way, destroyed when the topic stops. */
  private readonly requests = new Set<ClientRequest>();
  /** Outcomes not yet written, and their delivery log rows. */
  private settlements: Settlement[] = [];
  private attempts: DeliveryAttempt[] = [];
  private flushTimer?: NodeJS.Timeout;
  private timer?: NodeJS.Timeout;
  private running = false;
  private pumping = false;
  private pumpAgain = false;
  private pumpScheduled = false;

  constructor(
    core: FunctionsCore,
    db: SqliteDatabase,
    private readonly deadLetters: DeadLetterStore,
    private readonly logger: Logger,
    private readonly options: LocalTopicOptions,
  ) {
    this.queue = new DeliveryQueue(db);
    this.log = new DeliveryLog(db, options.deliveryLog);
    for (const fn of core.byTrigger('eventGridTrigger')) {
      const name = `function-${fn.metadata.name}`;
      this.targets.set(name, { kind: 'function', name, fn, maxDeliveryAttempts: 30, ttlMinutes: 1440 });
    }
    for (const sub of options.subscriptions) {
      const url = new URL(sub.endpointUrl);
      const agentOptions = { keepAlive: true, maxSockets: maxConcurrentPerSubscription };
      this.targets.set(sub.name, {
        kind: 'webhook',
        name: sub.name,
        sub,
        maxDeliveryAttempts: sub.maxDeliveryAttempts,
        ttlMinutes: sub.eventTimeToLiveInMinutes,
        url,
        agent: url.protocol === 'https:' ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions),
        headerName: sub.name.toUpperCase(),
      });
    }
    // A lane per subscription, and one per subscription that has deliveries queued but no longer exists.
    const names = new Set([...this.targets.keys(), ...this.queue.pendingBySubscription().keys()]);
    for (const name of names) {
      const lane: Lane = {
        name,
        target: this.targets.get(name),
        inFlight: 0,
        cursor: 0,
        caughtUp: false,
        ready: new Fifo(),
        keys: new Map(),
        waiting: 0,
        retries: [],
        retriesInFlight: new Set(),
        retryAt: 0,
      };
      this.lanes.set(name, lane);
      this.laneList.push(lane);
    }
  }

  /** Names of the subscriptions, for the start-up log. */
  get subscriptionNames(): string[] {
    return [...this.targets.keys()];
  }

  /** The delivery attempts of the events of `subject` (`orders/{orderId}`), newest first, at most `limit`. */
  attemptsOf(subject: string, limit: number): DeliveryAttempt[] {
    return this.log.bySubject(subject, limit);
  }

  /**
   * Per subscription (in the order of {@link subscriptionNames}): deliveries pending now, attempts delivered
   * and failed in the hour before `now` (ms since the epoch), and dead letters in the store; and the sums.
   * @throws what the dead-letter store throws when it cannot list a channel
   */
  async stats(now = Date.now()): Promise<TopicStats> {
    const pending = this.queue.pendingBySubscription();
    const lastHour = this.log.countsSince(now - 3_600_000);
    const deadLettered = await this.deadLetterCountsNow(now);
    const subscriptions = this.subscriptionNames.map((name) => ({
      name,
      pending: pending.get(name) ?? 0,
      deliveredLastHour: lastHour.get(name)?.delivered ?? 0,
      failedAttemptsLastHour: lastHour.get(name)?.failedAttempts ?? 0,
      deadLettered: deadLettered.get(name) ?? 0,
    }));
    const sum = (pick: (s: SubscriptionStats) => number) => subscriptions.reduce((n, s) => n + pick(s), 0);
    return {
      subscriptions,
      pending: sum((s) => s.pending),
      failedAttemptsLastHour: sum((s) => s.failedAttemptsLastHour),
      deadLettered: sum((s) => s.deadLettered),
    };
  }

  /** Dead letters per subscription, counted at most once per {@link deadLetterCountTtlMs} (see there). */
  private deadLetterCountsNow(now: number): Promise<Map<string, number>> {
    const cached = this.deadLetterCounts;
    if (cached && now - cached.at < deadLetterCountTtlMs) return cached.counts;
    const names = this.subscriptionNames;
    const counts = Promise.all(
      names.map(async (name) => [name, (await this.deadLetters.list(`eventgrid-${name}`)).length] as const),
    ).then((pairs) => new Map(pairs));
    const entry = { at: now, counts };
    this.deadLetterCounts = entry;
    // A failed count is not reused: the next request tries again.
    counts.catch(() => {
      if (this.deadLetterCounts === entry) this.deadLetterCounts = undefined;
    });
    return counts;
  }

  start(): void {
    this.running = true;
    this.timer = setInterval(() => this.pump(), this.options.pollMs);
    this.pump();
  }

  /**
   * Stops delivering: webhook calls in flight are abandoned (they stay queued, as failed attempts, and
   * are delivered after the next start), function deliveries in flight finish, and every outcome is written.
   */
  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.timer);
    for (const req of this.requests) req.destroy(new Error('the local host is stopping'));
    await Promise.all(this.inFlight.values());
    this.flush();
    for (const t of this.targets.values()) if (t.kind === 'webhook') t.agent.destroy();
  }

  /** The HTTP handler of the topic endpoint: Event Grid's JSON error shape for every refusal. */
  handle = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<number> => {
    try {
      return await this.receive(req, res, url);
    } catch (err) {
      if (res.headersSent) throw err;
      // JSON nested too deep to measure or check: refused like any malformed body.
      if (err instanceof RangeError)
        return eventGridError(res, 400, 'BadRequest', 'the body is nested too deeply');
      this.logger.error('eventgrid', 'publish failed', err);
      return eventGridError(res, 500, 'InternalServerError', 'the local topic failed; see the host log');
    }
  };

  private receive = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<number> => {
    if (!/^\/eventgrid\/api\/events\/?$/.test(url.pathname)) {
      req.resume();
      return eventGridError(res, 404, 'NotFound', 'the local topic is at /eventgrid/api/events');
    }
    if (req.method !== 'POST') {
      req.resume();
      return eventGridError(res, 405, 'MethodNotAllowed', 'publish with POST');
    }
    const key = req.headers['aeg-sas-key'];
    if (typeof key !== 'string' || !sameKey(key, this.options.key)) {
      req.resume();
      return eventGridError(res, 401, 'Unauthorized', 'the aeg-sas-key header is missing or wrong');
    }
    const body = await readBody(req, eventGridLimits.maxRequestBytes);
    if (body === undefined) {
      return eventGridError(
        res,
        413,
        'RequestEntityTooLarge',
        `the request is over ${eventGridLimits.maxRequestBytes} bytes`,
      );
    }
    const encoding = req.headers['content-encoding'];
    if (encoding && encoding.trim().toLowerCase() !== 'identity') {
      return eventGridError(res, 415, 'UnsupportedMediaType', `content-encoding ${encoding} is not accepted`);
    }
    const type = String(req.headers['content-type'] ?? '');
    const batch = /^application\/cloudevents-batch\+json\s*(;|$)/i.test(type);
    if (!batch && !/^application\/cloudevents\+json\s*(;|$)/i.test(type)) {
      return eventGridError(
        res,
        400,
        'BadRequest',
        `content-type must be application/cloudevents-batch+json, got "${type}"`,
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(utf8.decode(body));
    } catch {
      return eventGridError(res, 400, 'BadRequest', 'the body is not valid JSON in UTF-8');
    }
    const items = batch ? parsed : [parsed];
    if (!Array.isArray(items))
      return eventGridError(res, 400, 'BadRequest', 'a batch must be a JSON array of CloudEvents');
    if (items.length > eventGridLimits.maxBatchEvents) {
      return eventGridError(
        res,
        413,
        'RequestEntityTooLarge',
        `over ${eventGridLimits.maxBatchEvents} events in one request`,
      );
    }
    const events: CloudEventJson[] = [];
    for (const [k, item] of items.entries()) {
      const size = jsonBytes(item);
      if (size > eventGridLimits.maxEventBytes) {
        return eventGridError(
          res,
          413,
          'RequestEntityTooLarge',
          `event ${k} is ${size} bytes, over the 1 MB event limit`,
        );
      }
      // JSON.parse keeps "__proto__" as an own key, which a parsed object would silently turn into a prototype.
      if (item && typeof item === 'object' && Object.keys(item).includes('__proto__')) {
        return eventGridError(res, 400, 'BadRequest', `event ${k}: __proto__ is not an attribute name`);
      }
      const check = cloudEventJson.safeParse(item);
      if (!check.success) {
        const issue = check.error.issues[0];
        return eventGridError(
          res,
          400,
          'BadRequest',
          `event ${k}: ${issue.path.join('.') || 'event'}: ${issue.message}`,
        );
      }
      events.push(check.data);
    }
    this.accept(events);
    res.writeHead(200);
    res.end();
    return 200;
  };

  private accept(events: CloudEventJson[]): void {
    const now = Date.now();
    const targets = [...this.targets.values()];
    const accepted: NewEvent[] = events.map((event) => {
      const orderingKey = typeof event.subject === 'string' ? event.subject : null;
      const deliveries = targets
        .filter(
          (t) =>
            t.kind === 'function' ||
            !t.sub.includedEventTypes ||
            t.sub.includedEventTypes.includes(event.type),
        )
        .map((t) => ({
          subscription: t.name,
          eventId: event.id,
          orderingKey,
          eventType: event.type,
          dueAt: now,
          expiresAt: now + t.ttlMinutes * 60_000 * this.options.retryScale,
        }));
      return { event: JSON.stringify(event), deliveries };
    });
    this.queue.enqueue(accepted);
    // The lanes that got deliveries have first attempts to read again.
    for (const e of accepted) for (const d of e.deliveries) this.lanes.get(d.subscription)!.caughtUp = false;
    this.pump();
  }

  /**
   * Starts what may start: per subscription (round robin, so none starves the others of the 32 slots), up to
   * 4 in flight, its due retries first, then its first attempts in the order the rules allow (see {@link Lane}).
   * Each step costs the same whatever the queue holds: reads are ranges of an index, in batches.
   */
  private pump(): void {
    if (!this.running) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        const now = Date.now();
        const lanes = this.laneList;
        for (let k = 0; k < lanes.length && this.inFlight.size < maxConcurrentDeliveries; k++) {
          const lane = lanes[(this.nextLane + k) % lanes.length];
          while (
            lane.inFlight < maxConcurrentPerSubscription &&
            this.inFlight.size < maxConcurrentDeliveries
          ) {
            const d = this.nextOf(lane, now);
            if (!d) break;
            this.begin(lane, this.batchOf(lane, d));
          }
        }
        this.nextLane = (this.nextLane + 1) % Math.max(1, lanes.length);
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
  }

  /**
   * Pumps once the I/O of this turn of the event loop has been handled. A delivery ends in a microtask (a
   * function's most of all), and a pump started from there would start the next ones in the same chain of
   * microtasks: a backlog of function deliveries would hold the event loop, and the HTTP answers, until it
   * is drained. The ends of one turn are taken together by one pump.
   */
  private pumpSoon(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** The lane's next delivery to start, or undefined when none may start now. */
  private nextOf(lane: Lane, now: number): Delivery | undefined {
    if (!lane.retries.length && now >= lane.retryAt) this.readRetries(lane, now);
    const retry = lane.retries.shift();
    if (retry) return retry;
    while (lane.ready.size === 0 && !lane.caughtUp && lane.waiting < maxWaitingPerSubscription)
      this.readFirstAttempts(lane);
    return lane.ready.shift();
  }

  /** Reads the lane's due retries (as many as may start), and when to look again. */
  private readRetries(lane: Lane, now: number): void {
    // The queue must show the outcomes known so far, or a retry just settled would be read again.
    this.flush();
    const limit = maxConcurrentPerSubscription + lane.retriesInFlight.size;
    const rows = this.queue.dueRetries(lane.name, now, limit);
    for (const d of rows) if (!lane.retriesInFlight.has(d.deliveryId)) lane.retries.push(d);
    // All read (or in flight): the next look is when the next retry is due. Otherwise at the next chance.
    lane.retryAt = rows.length < limit ? (this.queue.nextRetryAfter(lane.name, now) ?? Infinity) : now;
  }

  /**
   * Reads the lane's next first attempts after its cursor. A delivery whose ordering key has one in flight or
   * ready waits behind it; the others are ready.
   */
  private readFirstAttempts(lane: Lane): void {
    const rows = this.queue.firstAttempts(lane.name, lane.cursor, readBatch);
    if (rows.length < readBatch) lane.caughtUp = true;
    for (const d of rows) {
      lane.cursor = d.deliveryId;
      lane.waiting++;
      if (d.orderingKey === null) {
        lane.ready.push(d);
        continue;
      }
      const behind = lane.keys.get(d.orderingKey);
      if (behind) behind.push(d);
      else {
        lane.keys.set(d.orderingKey, []);
        lane.ready.push(d);
      }
    }
  }

  /**
   * `first` and, for a webhook subscription with output batching, the first attempts ready after it, up to its
   * `maxEventsPerBatch` events and `preferredBatchSizeInKilobytes` (an event over that goes alone). Ready first
   * attempts have distinct ordering keys, so a batch never holds two events of one order. Retries go one by one.
   */
  private batchOf(lane: Lane, first: Delivery): Delivery[] {
    const target = lane.target;
    if (first.attempts > 0 || target?.kind !== 'webhook' || target.sub.maxEventsPerBatch === 1)
      return [first];
    const maxBytes = target.sub.preferredBatchSizeInKilobytes * 1024;
    const batch = [first];
    let bytes = this.eventBytes(first);
    while (batch.length < target.sub.maxEventsPerBatch && bytes < maxBytes) {
      if (lane.ready.size === 0 && !lane.caughtUp && lane.waiting < maxWaitingPerSubscription)
        this.readFirstAttempts(lane);
      const next = lane.ready.peek();
      if (!next) break;
      const size = this.eventBytes(next);
      if (bytes + 1 + size > maxBytes) break;
      batch.push(lane.ready.shift()!);
      bytes += 1 + size;
    }
    return batch;
  }

  /** The bytes of a delivery's event (read now when it was not read with the delivery); 0 when it is gone. */
  private eventBytes(d: Delivery): number {
    d.event ??= this.queue.event(d.deliveryId) ?? null;
    return d.event === null ? 0 : Buffer.byteLength(d.event);
  }

  private begin(lane: Lane, batch: Delivery[]): void {
    const key = batch[0].deliveryId;
    lane.inFlight++;
    for (const d of batch) {
      if (d.attempts === 0) lane.waiting--;
      else lane.retriesInFlight.add(d.deliveryId);
    }
    const run = (batch.length === 1 ? this.attempt(lane, batch[0]) : this.attemptBatch(lane, batch))
      .catch((err: unknown) => {
        // Not expected (attempt settles every outcome); the delivery stays queued and is tried after a restart.
        this.logger.error('eventgrid', `delivery ${key} to ${lane.name} failed`, err);
      })
      .finally(() => {
        this.inFlight.delete(key);
        lane.inFlight--;
        for (const d of batch) {
          if (d.attempts > 0) lane.retriesInFlight.delete(d.deliveryId);
          else if (d.orderingKey !== null) {
            // Its first attempt is over (delivered, failed or dead-lettered): the next of its key may go.
            const behind = lane.keys.get(d.orderingKey)!;
            const next = behind.shift();
            if (next) lane.ready.push(next);
            else lane.keys.delete(d.orderingKey);
          }
        }
        this.pumpSoon();
      });
    this.inFlight.set(key, run);
  }

  /**
   * Records an attempt's outcome: the queue change and the delivery log row are written together, in one
   * transaction per batch (at most {@link settleBatch} outcomes, or those of {@link settleDelayMs}).
   */
  private settle(change: Settlement, attempt: DeliveryAttempt): void {
    this.settlements.push(change);
    this.attempts.push(attempt);
    if (this.settlements.length >= settleBatch) this.flush();
    else this.flushTimer ??= setTimeout(() => this.flush(), settleDelayMs);
  }

  /** Writes the outcomes recorded since the last flush, in one transaction. */
  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (!this.settlements.length) return;
    const settlements = this.settlements;
    const attempts = this.attempts;
    this.settlements = [];
    this.attempts = [];
    try {
      this.queue.settle(settlements, () => {
        try {
          this.log.recordMany(attempts);
        } catch (err) {
          // The log is for people; a failure to write it must not undo (and so repeat) the deliveries.
          this.logger.warn('eventgrid', 'could not record delivery attempts in the delivery log', err);
        }
      });
    } catch (err) {
      // Nothing was written: the deliveries are still queued as they were. Kept to be written with the next.
      this.logger.error('eventgrid', 'could not record the outcome of deliveries; trying again', err);
      this.settlements = settlements.concat(this.settlements);
      this.attempts = attempts.concat(this.attempts);
      this.flushTimer ??= setTimeout(() => this.flush(), 1_000);
    }
  }

  private async attempt(lane: Lane, d: Delivery): Promise<void> {
    const target = lane.target;
    const settle = this.settlerOf(d);
    const done: Settlement = { kind: 'done', deliveryId: d.deliveryId, subscription: d.subscription };
    if (!target) {
      this.logger.warn(
        'eventgrid',
        `dropping delivery ${d.deliveryId}: subscription ${d.subscription} no longer exists`,
      );
      settle(done, 'dropped', { error: `subscription ${d.subscription} no longer exists` });
      return;
    }
    const event = d.event ?? this.queue.event(d.deliveryId);
    if (event === undefined) return; // settled already: nothing to deliver
    let outcome: Outcome;
    try {
      outcome =
        target.kind === 'function'
          ? await this.toFunction(target.fn, event)
          : target.sub.maxEventsPerBatch > 1
            ? // A subscriber that asked for batches gets arrays, even of one event, as from Event Grid.
              await this.toWebhook(target, `[${event}]`, d.attempts + 1, true)
            : await this.toWebhook(target, event, d.attempts + 1, false);
    } catch (err) {
      outcome = { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    await this.conclude(lane, target, d, event, outcome);
  }

  /** First attempts of several events to one webhook in one request: the outcome is every event's. */
  private async attemptBatch(lane: Lane, batch: Delivery[]): Promise<void> {
    const target = lane.target as WebhookTarget;
    const live = batch.filter((d) => d.event !== null);
    if (!live.length) return; // settled already: nothing to deliver
    let outcome: Outcome;
    try {
      outcome = await this.toWebhook(target, `[${live.map((d) => d.event).join(',')}]`, 1, true);
    } catch (err) {
      outcome = { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    for (const d of live) await this.conclude(lane, target, d, d.event!, outcome);
  }

  /** Records the outcome of `d`'s attempt (see {@link settle}), with its delivery log row. */
  private settlerOf(d: Delivery) {
    return (
      change: Settlement,
      outcome: DeliveryAttempt['outcome'],
      result: { status?: number; error?: string },
    ) =>
      this.settle(change, {
        subscription: d.subscription,
        eventId: d.eventId,
        type: d.eventType,
        subject: d.orderingKey,
        attempt: d.attempts + 1,
        outcome,
        ...(result.status !== undefined ? { status: result.status } : {}),
        ...(result.error !== undefined ? { error: result.error } : {}),
        at: Date.now(),
      });
  }

  /** Settles one delivery's attempt by its outcome: delivered, retried later, or dead-lettered. */
  private async conclude(
    lane: Lane,
    target: Target,
    d: Delivery,
    event: string,
    outcome: Outcome,
  ): Promise<void> {
    const attempts = d.attempts + 1;
    const settle = this.settlerOf(d);
    const done: Settlement = { kind: 'done', deliveryId: d.deliveryId, subscription: d.subscription };
    const count = (result: 'delivered' | 'retry' | 'dead-lettered', status?: number) =>
      instrument(metricDefinitions.localDeliveries).add(1, {
        [attributeNames.messagingSubscription]: d.subscription,
        [attributeNames.destinationKind]: target.kind,
        [attributeNames.deliveryOutcome]: result,
        ...(status !== undefined ? { [attributeNames.httpStatus]: status } : {}),
      });
    if (outcome.ok) {
      settle(done, 'delivered', { status: outcome.status });
      count('delivered');
      return;
    }
    const final =
      outcome.status !== undefined && target.kind === 'webhook' && noRetryStatuses.has(outcome.status);
    const next = Date.now() + retryDelayMs(attempts, this.options.retryScale);
    let error = outcome.error;
    if (final || attempts >= target.maxDeliveryAttempts || next > d.expiresAt) {
      const reason = final
        ? `subscriber answered ${outcome.status}, which Event Grid does not retry`
        : attempts >= target.maxDeliveryAttempts
          ? `max delivery attempts (${target.maxDeliveryAttempts}) exceeded: ${outcome.error}`
          : `time to live (${target.ttlMinutes} min) expired: ${outcome.error}`;
      try {
        await this.deadLetters.put(`eventgrid-${d.subscription}`, `${d.eventId}-${d.deliveryId}`, {
          reason,
          deadLetteredAt: new Date().toISOString(),
          attempts,
          lastStatus: outcome.status,
          event: JSON.parse(event),
        });
        this.deadLetterCounts = undefined;
        settle(done, 'deadLettered', outcome);
        count('dead-lettered', outcome.status);
        this.logger.warn('eventgrid', `dead-lettered ${d.eventId} for ${d.subscription}: ${reason}`);
        return;
      } catch (err) {
        // The dead-letter store failed: the delivery stays queued, to be tried (and dead-lettered) again later.
        this.logger.error('eventgrid', `could not dead-letter ${d.eventId} for ${d.subscription}`, err);
        error = `${outcome.error}; could not be dead-lettered: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    count('retry', outcome.status);
    this.logger.warn(
      'eventgrid',
      `delivery of ${d.eventId} to ${d.subscription} failed (attempt ${attempts}): ${error}; next in ${Math.round((next - Date.now()) / 1000)} s`,
    );
    settle(
      {
        kind: 'retry',
        deliveryId: d.deliveryId,
        subscription: d.subscription,
        attempts,
        dueAt: next,
        error,
      },
      'retrying',
      { ...(outcome.status !== undefined ? { status: outcome.status } : {}), error },
    );
    lane.retryAt = Math.min(lane.retryAt, next);
  }

  private async toFunction(fn: RegisteredFunction, json: string): Promise<{ ok: true }> {
    const event = JSON.parse(json) as Record<string, unknown>;
    const context = createInvocationContext(fn, this.logger, {
      traceParent: typeof event.traceparent === 'string' ? event.traceparent : undefined,
    });
    await fn.callback(event, context);
    return { ok: true };
  }

  /**
   * The CloudEvents webhook abuse-protection handshake, once per subscription per host run; the deliveries
   * that need it while it is under way wait for the same one.
   */
  private handshake(target: WebhookTarget): Promise<string | undefined> {
    let running = this.handshakes.get(target.name);
    if (!running) {
      running = this.request(target, 'OPTIONS', { 'WebHook-Request-Origin': origin })
        .then(({ status, allowedOrigin }) => {
          if (status !== 200 || (allowedOrigin !== origin && allowedOrigin !== '*')) {
            return `handshake failed: OPTIONS answered ${status} with WebHook-Allowed-Origin ${allowedOrigin ?? '(none)'}`;
          }
          this.validated.add(target.name);
          return undefined;
        })
        .finally(() => this.handshakes.delete(target.name));
      this.handshakes.set(target.name, running);
    }
    return running;
  }

  /** `body` is one CloudEvent, or with `batch` a JSON array of them (`application/cloudevents-batch+json`). */
  private async toWebhook(
    target: WebhookTarget,
    body: string,
    attempts: number,
    batch: boolean,
  ): Promise<Outcome> {
    if (!this.validated.has(target.name)) {
      const refused = await this.handshake(target);
      if (refused) return { ok: false, error: refused };
    }
    const { status } = await this.request(
      target,
      'POST',
      {
        'content-type': batch
          ? 'application/cloudevents-batch+json; charset=utf-8'
          : 'application/cloudevents+json; charset=utf-8',
        'aeg-subscription-name': target.headerName,
        'aeg-delivery-count': String(attempts - 1),
        'webhook-request-origin': origin,
      },
      body,
    );
    if (status >= 200 && status <= 204) return { ok: true, status };
    return { ok: false, status, error: `subscriber answered ${status}` };
  }

  /**
   * One request to a webhook over the subscription's keep-alive agent (at most 4 connections, one per
   * delivery in flight), its answer read to the end; rejects when it is not answered within the delivery
   * timeout, when the connection fails, or when the topic stops.
   */
  private request(
    target: WebhookTarget,
    method: string,
    headers: Record<string, string>,
    body?: string,
  ): Promise<{ status: number; allowedOrigin?: string }> {
    const timeoutMs = this.options.deliveryTimeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      let settled = false;
      const end = (err: Error | undefined, status = 0, allowedOrigin?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.requests.delete(req);
        if (err) reject(err);
        else resolve({ status, ...(allowedOrigin !== undefined ? { allowedOrigin } : {}) });
      };
      const send = target.url.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = send(
        target.url,
        {
          method,
          agent: target.agent,
          headers: body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          const allowed = res.headers['webhook-allowed-origin'];
          res.on('error', (err) => end(err));
          res.on('end', () =>
            end(undefined, res.statusCode ?? 0, Array.isArray(allowed) ? allowed.join(', ') : allowed),
          );
          res.on('close', () => {
            if (!res.complete) end(new Error('the subscriber closed the connection before its answer ended'));
          });
          res.resume();
        },
      );
      const timer = setTimeout(
        () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)),
        timeoutMs,
      );
      this.requests.add(req);
      req.on('error', (err) => end(err));
      req.end(body);
    });
  }
}

/** A small first-in first-out queue: push at the back, shift from the front, both O(1). */
class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** The front item, left in place. */
  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}
