import {
  Attributes,
  Context,
  context,
  createContextKey,
  createTraceState,
  isSpanContextValid,
  Link,
  ROOT_CONTEXT,
  Span,
  SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
} from '@opentelemetry/api';
import { attributeNames, instrumentationScopes } from '../shared/telemetryNames';

/*
 * The application's spans, through the OpenTelemetry API only: without an SDK (telemetry off) every call here
 * is the API's no-op. The SDK and its exporters are started by the entry points (src/telemetry/start.ts).
 * How a command's trace context travels (the commit's `traceparent`, the CloudEvent's, the orchestration's
 * input) is described in docs/observability.md.
 */

/** The application's tracer (asked for each time: the API's global provider may change, in tests). */
export const tracer = () => trace.getTracer(instrumentationScopes.app);

const traceparentFormat = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * The span context a W3C `traceparent` (and `tracestate`) names, as a remote parent; undefined when the value
 * is absent or not valid W3C Trace Context. Read directly rather than through the configured propagator: the
 * commits and CloudEvents store W3C Trace Context whatever the process propagates over HTTP.
 */
export function spanContextOf(traceparent: unknown, tracestate?: unknown): SpanContext | undefined {
  if (typeof traceparent !== 'string') return undefined;
  const m = traceparentFormat.exec(traceparent.trim());
  if (!m || m[1] === 'ff') return undefined;
  const sc: SpanContext = {
    traceId: m[2],
    spanId: m[3],
    traceFlags: parseInt(m[4], 16) & TraceFlags.SAMPLED,
    isRemote: true,
  };
  if (typeof tracestate === 'string' && tracestate.trim() !== '')
    sc.traceState = createTraceState(tracestate);
  return isSpanContextValid(sc) ? sc : undefined;
}

/** The W3C `traceparent` of a span context, or undefined when it is not valid (telemetry off). */
export function traceparentOf(sc: SpanContext | undefined): string | undefined {
  if (!sc || !isSpanContextValid(sc)) return undefined;
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & TraceFlags.SAMPLED).toString(16).padStart(2, '0')}`;
}

/** The `traceparent` of the active span, or undefined without one. */
export const currentTraceparent = (): string | undefined =>
  traceparentOf(trace.getActiveSpan()?.spanContext());

/** A context whose parent is the remote span context `sc`. */
export const contextOf = (sc: SpanContext): Context => trace.setSpanContext(ROOT_CONTEXT, sc);

/** `error.type` of a failure: the error's class name (`WrongExpectedVersionError`, `RestError`, ...). */
export function errorTypeOf(err: unknown): string {
  if (err instanceof Error) {
    const name = err.constructor?.name;
    return name && name !== 'Object' ? name : err.name || 'Error';
  }
  return typeof err;
}

export interface InSpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  links?: Link[];
  /** The parent; by default the active context. */
  parent?: Context;
  /**
   * Errors that are an answer rather than a failure (a refused command): recorded as `error.type` on the span
   * without an error status, since they are the caller's, not this span's, problem.
   */
  expected?: (err: unknown) => boolean;
}

/**
 * Runs `work` in a new active span that ends when it settles. A failure sets `error.type`, and unless
 * `expected` says otherwise, the error status and an exception event (message and stack).
 */
export function inSpan<T>(
  name: string,
  options: InSpanOptions,
  work: (span: Span) => Promise<T>,
): Promise<T> {
  const { parent, expected, ...spanOptions } = options;
  return tracer().startActiveSpan(name, spanOptions, parent ?? context.active(), async (span) => {
    try {
      return await work(span);
    } catch (err) {
      failed(span, err, expected?.(err) ?? false);
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Marks a span as failed by `err` (only `error.type` when the error is an expected answer). */
export function failed(span: Span, err: unknown, expected = false): void {
  span.setAttribute(attributeNames.errorType, errorTypeOf(err));
  if (expected) return;
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  if (err instanceof Error) span.recordException(err);
}

/**
 * Work on items that each carry the trace context they were created in (the commits of a change-feed batch, the
 * events of a publish request): links to every distinct creation context, and the parent. Items that all come
 * from one trace continue it, the first item's context being the parent, so one trace id shows a command's
 * whole story; items from several traces start from the ambient context (the function invocation's) and are
 * reached through the links. OpenTelemetry's messaging conventions allow a message's creation context as the
 * parent of its processing, and ask for links to each: https://opentelemetry.io/docs/specs/semconv/messaging/messaging-spans/
 */
export function continuation(items: { sc: SpanContext | undefined; attributes?: Attributes }[]): {
  parent: Context;
  links: Link[];
} {
  const links: Link[] = [];
  const seen = new Set<string>();
  const traces = new Set<string>();
  let first: SpanContext | undefined;
  for (const { sc, attributes } of items) {
    if (!sc) continue;
    first ??= sc;
    traces.add(sc.traceId);
    const key = `${sc.traceId}-${sc.spanId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    links.push(attributes ? { context: sc, attributes } : { context: sc });
  }
  const single = first && traces.size === 1 && !items.some((i) => !i.sc);
  return { parent: single ? contextOf(first!) : context.active(), links };
}

/** The ambient span's context as a link, when there is one and it is not `parent`'s (a Functions host invocation). */
export function ambientLink(parent: Context): Link[] {
  const ambient = trace.getSpanContext(context.active());
  if (!ambient || !isSpanContextValid(ambient)) return [];
  const chosen = trace.getSpanContext(parent);
  return chosen && chosen.spanId === ambient.spanId && chosen.traceId === ambient.traceId
    ? []
    : [{ context: ambient }];
}

const commandSpanKey = createContextKey('orders.command span');

/**
 * Runs `work` with `span` as the span that describes the command being handled (the HTTP function's span,
 * src/http/endpoint.ts): {@link describeCommand} sets the command's order id, type and outcome on it, from
 * wherever the command is handled below.
 */
export const withCommandSpan = <T>(span: Span, work: () => T): T =>
  context.with(trace.setSpan(context.active(), span).setValue(commandSpanKey, span), work);

/** Sets attributes on the span of {@link withCommandSpan}, if there is one in the active context. */
export function describeCommand(attributes: Attributes): void {
  (context.active().getValue(commandSpanKey) as Span | undefined)?.setAttributes(attributes);
}

const requestCharges = new WeakMap<Span, number>();

/**
 * Adds a Cosmos DB operation's request charge (RU) to the active span, summed over the span's operations
 * (`azure.cosmosdb.operation.request_charge`): the append span carries what its commit cost.
 */
export function addRequestCharge(requestCharge: number): void {
  const span = trace.getActiveSpan();
  if (!span?.isRecording() || !Number.isFinite(requestCharge)) return;
  const total = (requestCharges.get(span) ?? 0) + requestCharge;
  requestCharges.set(span, total);
  span.setAttribute(attributeNames.requestCharge, total);
}
