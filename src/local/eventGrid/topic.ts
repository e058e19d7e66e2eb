import { IncomingMessage, ServerResponse } from 'node:http';
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
import { Delivery, DeliveryQueue } from './deliveries';
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

/** A subscriber: a captured eventGrid-trigger function, or a webhook from the subscriptions file. */
type Target =
  | {
      kind: 'function';
      name: string;
      fn: RegisteredFunction;
      maxDeliveryAttempts: number;
      ttlMinutes: number;
    }
  | {
      kind: 'webhook';
      name: string;
      sub: WebhookSubscription;
      maxDeliveryAttempts: number;
      ttlMinutes: number;
    };

const origin = 'eventgrid.azure.net';
const utf8 = new TextDecoder('utf-8', { fatal: true });
const maxConcurrentDeliveries = 32;
/** A slow subscriber holds at most this many deliveries, so it cannot starve the others. */
const maxConcurrentPerSubscription = 4;

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
 */
export class LocalEventGridTopic {
  private readonly queue: DeliveryQueue;
  private readonly log: DeliveryLog;
  /** Applies a change to the queue and records the attempt in the log, in one transaction. */
  private readonly settleTransaction: (change: () => void, attempt: DeliveryAttempt) => void;
  private deadLetterCounts?: { at: number; counts: Promise<Map<string, number>> };
  private readonly targets = new Map<string, Target>();
  private readonly validated = new Set<string>();
  private readonly inFlight = new Map<number, Promise<void>>();
  private readonly inFlightBySubscription = new Map<number, string>();
  private timer?: NodeJS.Timeout;
  private readonly stopping = new AbortController();
  private running = false;
  private pumping = false;
  private pumpAgain = false;

  constructor(
    core: FunctionsCore,
    db: SqliteDatabase,
    private readonly deadLetters: DeadLetterStore,
    private readonly logger: Logger,
    private readonly options: LocalTopicOptions,
  ) {
    this.queue = new DeliveryQueue(db);
    this.log = new DeliveryLog(db, options.deliveryLog);
    this.settleTransaction = db.transaction((change: () => void, attempt: DeliveryAttempt) => {
      change();
      try {
        this.log.record(attempt);
      } catch (err) {
        // The log is for people; a failure to write it must not undo (and so repeat) the delivery.
        this.logger.warn('eventgrid', 'could not record a delivery attempt in the delivery log', err);
      }
    });
    for (const fn of core.byTrigger('eventGridTrigger')) {
      const name = `function-${fn.metadata.name}`;
      this.targets.set(name, { kind: 'function', name, fn, maxDeliveryAttempts: 30, ttlMinutes: 1440 });
    }
    for (const sub of options.subscriptions) {
      this.targets.set(sub.name, {
        kind: 'webhook',
        name: sub.name,
        sub,
        maxDeliveryAttempts: sub.maxDeliveryAttempts,
        ttlMinutes: sub.eventTimeToLiveInMinutes,
      });
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
   * are delivered after the next start), function deliveries in flight finish.
   */
  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.timer);
    this.stopping.abort();
    await Promise.all(this.inFlight.values());
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
    const rows = events.flatMap((event) =>
      [...this.targets.values()]
        .filter(
          (t) =>
            t.kind === 'function' ||
            !t.sub.includedEventTypes ||
            t.sub.includedEventTypes.includes(event.type),
        )
        .map((t) => ({
          subscription: t.name,
          eventId: event.id,
          orderingKey: typeof event.subject === 'string' ? event.subject : null,
          eventType: event.type,
          event: JSON.stringify(event),
          dueAt: now,
          expiresAt: now + t.ttlMinutes * 60_000 * this.options.retryScale,
        })),
    );
    this.queue.enqueue(rows);
    this.pump();
  }

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
        const free = maxConcurrentDeliveries - this.inFlight.size;
        if (free <= 0) break;
        const busy = new Map<string, number>();
        for (const sub of this.inFlightBySubscription.values()) busy.set(sub, (busy.get(sub) ?? 0) + 1);
        const full = [...busy].filter(([, n]) => n >= maxConcurrentPerSubscription).map(([sub]) => sub);
        for (const d of this.queue.due(Date.now(), free, new Set(this.inFlight.keys()), full)) {
          const held = busy.get(d.subscription) ?? 0;
          if (held >= maxConcurrentPerSubscription) {
            // That subscription is full now: look again without it, so the others' deliveries start too.
            this.pumpAgain = true;
            continue;
          }
          busy.set(d.subscription, held + 1);
          this.inFlightBySubscription.set(d.deliveryId, d.subscription);
          const run = this.attempt(d).finally(() => {
            this.inFlight.delete(d.deliveryId);
            this.inFlightBySubscription.delete(d.deliveryId);
            this.pump();
          });
          this.inFlight.set(d.deliveryId, run);
        }
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
  }

  private async attempt(d: Delivery): Promise<void> {
    const target = this.targets.get(d.subscription);
    const attempts = d.attempts + 1;
    const settle = (
      change: () => void,
      outcome: DeliveryAttempt['outcome'],
      result: { status?: number; error?: string },
    ) =>
      this.settleTransaction(change, {
        subscription: d.subscription,
        eventId: d.eventId,
        type: d.eventType,
        subject: d.orderingKey,
        attempt: attempts,
        outcome,
        ...(result.status !== undefined ? { status: result.status } : {}),
        ...(result.error !== undefined ? { error: result.error } : {}),
        at: Date.now(),
      });
    if (!target) {
      this.logger.warn(
        'eventgrid',
        `dropping delivery ${d.deliveryId}: subscription ${d.subscription} no longer exists`,
      );
      settle(() => this.queue.done(d.deliveryId), 'dropped', {
        error: `subscription ${d.subscription} no longer exists`,
      });
      return;
    }
    let outcome: Outcome;
    try {
      outcome =
        target.kind === 'function'
          ? await this.toFunction(target.fn, d)
          : await this.toWebhook(target.sub, d, attempts);
    } catch (err) {
      outcome = { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    const count = (result: 'delivered' | 'retry' | 'dead-lettered', status?: number) =>
      instrument(metricDefinitions.localDeliveries).add(1, {
        [attributeNames.messagingSubscription]: d.subscription,
        [attributeNames.destinationKind]: target.kind,
        [attributeNames.deliveryOutcome]: result,
        ...(status !== undefined ? { [attributeNames.httpStatus]: status } : {}),
      });
    if (outcome.ok) {
      settle(() => this.queue.done(d.deliveryId), 'delivered', { status: outcome.status });
      count('delivered');
      return;
    }
    const final =
      outcome.status !== undefined && target.kind === 'webhook' && noRetryStatuses.has(outcome.status);
    const next = Date.now() + retryDelayMs(attempts, this.options.retryScale);
    if (final || attempts >= target.maxDeliveryAttempts || next > d.expiresAt) {
      const reason = final
        ? `subscriber answered ${outcome.status}, which Event Grid does not retry`
        : attempts >= target.maxDeliveryAttempts
          ? `max delivery attempts (${target.maxDeliveryAttempts}) exceeded: ${outcome.error}`
          : `time to live (${target.ttlMinutes} min) expired: ${outcome.error}`;
      await this.deadLetters.put(`eventgrid-${d.subscription}`, `${d.eventId}-${d.deliveryId}`, {
        reason,
        deadLetteredAt: new Date().toISOString(),
        attempts,
        lastStatus: outcome.status,
        event: JSON.parse(d.event),
      });
      this.deadLetterCounts = undefined;
      settle(() => this.queue.done(d.deliveryId), 'deadLettered', outcome);
      count('dead-lettered', outcome.status);
      this.logger.warn('eventgrid', `dead-lettered ${d.eventId} for ${d.subscription}: ${reason}`);
      return;
    }
    count('retry', outcome.status);
    this.logger.warn(
      'eventgrid',
      `delivery of ${d.eventId} to ${d.subscription} failed (attempt ${attempts}): ${outcome.error}; next in ${Math.round((next - Date.now()) / 1000)} s`,
    );
    const failed = outcome;
    settle(() => this.queue.retryLater(d.deliveryId, attempts, next, failed.error), 'retrying', failed);
  }

  private async toFunction(fn: RegisteredFunction, d: Delivery): Promise<{ ok: true }> {
    const event = JSON.parse(d.event) as Record<string, unknown>;
    const context = createInvocationContext(fn, this.logger, {
      traceParent: typeof event.traceparent === 'string' ? event.traceparent : undefined,
    });
    await fn.callback(event, context);
    return { ok: true };
  }

  /** The CloudEvents webhook abuse-protection handshake, once per subscription per host run. */
  private async handshake(sub: WebhookSubscription): Promise<string | undefined> {
    if (this.validated.has(sub.name)) return undefined;
    const res = await fetch(sub.endpointUrl, {
      method: 'OPTIONS',
      headers: { 'WebHook-Request-Origin': origin },
      signal: AbortSignal.any([
        AbortSignal.timeout(this.options.deliveryTimeoutMs ?? 30_000),
        this.stopping.signal,
      ]),
    });
    await res.arrayBuffer();
    const allowed = res.headers.get('webhook-allowed-origin');
    if (res.status !== 200 || (allowed !== origin && allowed !== '*')) {
      return `handshake failed: OPTIONS answered ${res.status} with WebHook-Allowed-Origin ${allowed ?? '(none)'}`;
    }
    this.validated.add(sub.name);
    return undefined;
  }

  private async toWebhook(sub: WebhookSubscription, d: Delivery, attempts: number): Promise<Outcome> {
    const refused = await this.handshake(sub);
    if (refused) return { ok: false, error: refused };
    const res = await fetch(sub.endpointUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/cloudevents+json; charset=utf-8',
        'aeg-subscription-name': sub.name.toUpperCase(),
        'aeg-delivery-count': String(attempts - 1),
        'webhook-request-origin': origin,
      },
      body: d.event,
      signal: AbortSignal.any([
        AbortSignal.timeout(this.options.deliveryTimeoutMs ?? 30_000),
        this.stopping.signal,
      ]),
    });
    await res.arrayBuffer();
    if (res.status >= 200 && res.status <= 204) return { ok: true, status: res.status };
    return { ok: false, status: res.status, error: `subscriber answered ${res.status}` };
  }
}
