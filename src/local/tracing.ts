import {
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
} from '@opentelemetry/api';
import { IncomingHttpHeaders } from 'node:http';
import { attributeNames, instrumentationScopes } from '../shared/telemetryNames';

/**
 * The request span of an HTTP function invocation, which the Functions host makes on Azure: kind server,
 * named `{method} {route}` (the OpenTelemetry HTTP conventions), a child of the request's `traceparent`, with
 * method, route, URL, server address and status (never the query string: it may hold a customer id). Its trace context is
 * handed to the invocation (`traceContext`), where the Azure Functions instrumentation makes it the parent of
 * the function's spans. With telemetry off the span is the API's no-op, and the invocation gets the request's
 * own `traceparent`, as before.
 * @param run answers the request with the invocation's `traceParent`; resolves the status sent
 */
export async function inRequestSpan(
  request: { method: string; route: string; url: URL; headers: IncomingHttpHeaders },
  run: (traceParent: string | undefined) => Promise<number>,
): Promise<number> {
  const parent = propagation.extract(ROOT_CONTEXT, request.headers);
  const span = trace.getTracer(instrumentationScopes.localHost).startSpan(
    `${request.method} ${request.route}`,
    {
      kind: SpanKind.SERVER,
      attributes: {
        [attributeNames.httpMethod]: request.method,
        [attributeNames.httpRoute]: request.route,
        [attributeNames.urlPath]: request.url.pathname,
        [attributeNames.urlScheme]: request.url.protocol.replace(/:$/, ''),
        // Without the query string, which may name a customer (`?customerId=`).
        [attributeNames.urlFull]: `${request.url.origin}${request.url.pathname}`,
        [attributeNames.serverAddress]: request.url.hostname,
        ...(request.url.port ? { [attributeNames.serverPort]: Number(request.url.port) } : {}),
      },
    },
    parent,
  );
  const sc = span.spanContext();
  const header = request.headers.traceparent;
  const traceParent = isSpanContextValid(sc)
    ? `00-${sc.traceId}-${sc.spanId}-0${sc.traceFlags & TraceFlags.SAMPLED}`
    : typeof header === 'string'
      ? header
      : undefined;
  try {
    const status = await run(traceParent);
    span.setAttribute(attributeNames.httpStatus, status);
    if (status >= 500) {
      span.setStatus({ code: SpanStatusCode.ERROR });
      span.setAttribute(attributeNames.errorType, String(status));
    }
    return status;
  } catch (err) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    span.setAttribute(attributeNames.errorType, err instanceof Error ? err.constructor.name : typeof err);
    throw err;
  } finally {
    span.end();
  }
}
