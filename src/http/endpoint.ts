import { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { DomainError } from '../domain/decider';
import { Id } from '../domain/ids';
import { MoneyFormatError } from '../domain/money';
import { UnknownEventError } from '../domain/upcasters';
import { EventTooLargeError } from '../app/orderService';
import { services as getServices, Services } from '../composition/services';
import { CommitTooLargeError, EventMetadata, WrongExpectedVersionError } from '../ports/eventStore';
import { InvalidContinuationTokenError } from '../ports/readModel';
import { parseIfMatch } from './etag';
import { FieldError, problem, validationProblem } from '../shared/problem';
import { methodsOf, RouteSpec } from './routes';
import { maxBodyBytes } from '../shared/httpLimits';
import { Access, actorOf, authenticate, authorize, Identity } from './identity';
import { allowedOrigin, crossSiteGuard, preflight, withCors } from './cors';
import { verifyDevelopmentToken } from '../composition/devSignIn';
import { authModeOf, publicBaseUrl } from '../config/settings';
import { SpanStatusCode } from '@opentelemetry/api';
import { inSpan, withCommandSpan } from '../app/tracing';
import { attributeNames } from '../shared/telemetryNames';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export { maxBodyBytes };

export interface EndpointInput<P, Q, B> {
  services: Services;
  params: P;
  query: Q;
  body: B;
  /** From `If-Match`: the version the caller's change is based on, if it named one. */
  expectedVersion?: number;
  metadata: EventMetadata;
  /**
   * How the caller may use this route (src/http/identity.ts): `role` (holds one of the route's roles),
   * `customer` (on their own data only: `customerId` is theirs; the order of the path is already checked to be
   * theirs), or `anyone` (an anonymous or `authenticated` route).
   */
  access: Access;
  /** The verified caller; undefined only on anonymous routes. */
  identity?: Identity;
  request: HttpRequest;
  context: InvocationContext;
}

type Infer<T> = T extends z.ZodType ? z.infer<T> : undefined;

function zodErrors(where: string, error: z.ZodError): FieldError[] {
  return error.issues.map((i) => {
    const path = i.path.map(String);
    // A strict object names unknown keys in `keys`, not in the path.
    const keys = i.code === 'unrecognized_keys' ? i.keys : [];
    const field = [where, ...path, ...keys.slice(0, 1)].join('.');
    return { field, message: i.message };
  });
}

function parsePart<T extends z.ZodType>(
  schema: T | undefined,
  value: unknown,
  where: string,
  errors: FieldError[],
): Infer<T> {
  if (!schema) return undefined as Infer<T>;
  const r = schema.safeParse(value);
  if (!r.success) {
    errors.push(...zodErrors(where, r.error));
    return undefined as Infer<T>;
  }
  return r.data as Infer<T>;
}

async function readJsonBody(
  request: HttpRequest,
): Promise<{ ok: true; value: unknown; text: string } | { ok: false; res: HttpResponseInit }> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > maxBodyBytes) {
    return {
      ok: false,
      res: problem(413, 'body-too-large', `the request body is over ${maxBodyBytes} bytes`),
    };
  }
  const bytes = Buffer.from(await request.arrayBuffer());
  if (bytes.length > maxBodyBytes) {
    return {
      ok: false,
      res: problem(413, 'body-too-large', `the request body is over ${maxBodyBytes} bytes`),
    };
  }
  if (bytes.length === 0)
    return { ok: false, res: validationProblem([{ field: 'body', message: 'a JSON body is required' }]) };
  const type = request.headers.get('content-type');
  // JSON in UTF-8 only (RFC 8259 §8.1): application/json or a +json type, no other charset. Required: a body
  // without it is what a cross-site form sends without a preflight.
  if (type === null) {
    return {
      ok: false,
      res: problem(
        415,
        'unsupported-media-type',
        'the body must be sent with Content-Type: application/json',
      ),
    };
  }
  if (!/^application\/([a-z0-9.-]+\+)?json\s*(;\s*charset="?utf-8"?\s*)?$/i.test(type)) {
    return {
      ok: false,
      res: problem(415, 'unsupported-media-type', `body must be application/json, got ${type}`),
    };
  }
  const encoding = request.headers.get('content-encoding');
  if (encoding && encoding.trim().toLowerCase() !== 'identity') {
    return {
      ok: false,
      res: problem(415, 'unsupported-media-type', `content-encoding ${encoding} is not accepted`),
    };
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { ok: false, res: validationProblem([{ field: 'body', message: 'not valid UTF-8' }]) };
  }
  try {
    return { ok: true, value: JSON.parse(text), text };
  } catch (err) {
    return {
      ok: false,
      res: validationProblem([{ field: 'body', message: `not valid JSON: ${(err as Error).message}` }]),
    };
  }
}

// W3C Trace Context: version ff, an all-zero trace id and an all-zero parent id are invalid.
const traceparentFormat = /^(?!ff)[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;
const correlationFormat = /^[A-Za-z0-9_.:-]{1,128}$/;

/**
 * Event metadata from the request. A `traceparent` that is not W3C Trace Context and an
 * `x-correlation-id` that is not 1-128 id characters are ignored, not stored. The actor is the verified
 * identity's id (src/http/identity.ts) prefixed with `user:`, never a header the client chose, so a client
 * cannot pass itself off as another user, the import or an orchestration.
 */
function metadataOf(
  request: HttpRequest,
  context: InvocationContext,
  identity: Identity | undefined,
): EventMetadata {
  const header = (name: string, format: RegExp) => {
    const value = request.headers.get(name)?.trim();
    return value && format.test(value) ? value : undefined;
  };
  const traceparent =
    header('traceparent', traceparentFormat) ??
    (context.traceContext?.traceParent && traceparentFormat.test(context.traceContext.traceParent)
      ? context.traceContext.traceParent
      : undefined);
  const correlationId =
    header('x-correlation-id', correlationFormat) ?? traceparent?.split('-')[1] ?? context.invocationId;
  const metadata: EventMetadata = {
    correlationId,
    causationId: context.invocationId,
    actor: actorOf(identity),
  };
  if (traceparent) metadata.traceparent = traceparent;
  return metadata;
}

/**
 * Query parameters, refusing one given twice (the API never takes lists in the query); empty ones are unset.
 * A null-prototype record: a parameter's name is the caller's, so `__proto__` or `constructor` must be an
 * ordinary key (refused by the route's strict query schema like any unknown name), never a prototype.
 */
function queryOf(request: HttpRequest, errors: FieldError[]): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  for (const [name, value] of new URL(request.url).searchParams) {
    // `code` is the Azure Functions access key; the Functions host consumes it, not the operation.
    if (name === 'code') continue;
    if (Object.prototype.hasOwnProperty.call(out, name)) {
      errors.push({ field: `query.${name}`, message: 'given more than once' });
    }
    // An empty value (`?status=&limit=`) means the parameter is not set, as form-built URLs send it.
    if (value !== '') out[name] = value;
  }
  return out;
}

/** Maps a failure of command handling to its problem answer; unknown errors become 500 and are logged. */
export function errorToProblem(err: unknown, context: InvocationContext): HttpResponseInit {
  if (err instanceof WrongExpectedVersionError) {
    return problem(
      412,
      'version-mismatch',
      `the order is at version ${err.actualVersion}; If-Match named ${err.expectedVersion}`,
      {
        currentVersion: err.actualVersion,
      },
    );
  }
  if (err instanceof DomainError) {
    const status = { 'not-found': 404, conflict: 409, invalid: 422 }[err.kind];
    const detail = err.field ? `${err.field}: ${err.message}` : err.message;
    return problem(status, err.kind === 'not-found' ? 'not-found' : 'rule-violation', detail, {
      errors: err.field ? [{ field: err.field, message: err.message }] : undefined,
    });
  }
  if (err instanceof MoneyFormatError)
    return validationProblem([{ field: 'body.unitPrice', message: err.message }]);
  if (err instanceof CommitTooLargeError) return problem(413, 'commit-too-large', err.message);
  if (err instanceof EventTooLargeError) return problem(413, 'event-too-large', err.message);
  if (err instanceof InvalidContinuationTokenError) {
    return validationProblem([{ field: 'query.continuationToken', message: err.message }]);
  }
  if (err instanceof UnknownEventError) return problem(500, 'unreadable-stream', err.message);
  context.error('unhandled error', err);
  return problem(500, 'internal', 'the request failed; it has been logged');
}

/** 401 with the challenge RFC 9110 asks for; 403 as it is. */
function refusal(status: 401 | 403, detail: string, invalidCredentials: boolean): HttpResponseInit {
  const answer = problem(status, status === 401 ? 'unauthenticated' : 'forbidden', detail);
  if (status !== 401) return answer;
  const challenge = invalidCredentials
    ? 'Bearer realm="order-events", error="invalid_token"'
    : 'Bearer realm="order-events"';
  return {
    ...answer,
    headers: { ...(answer.headers as Record<string, string>), 'www-authenticate': challenge },
  };
}

/**
 * Wraps an endpoint implementation into an Azure Functions http handler, the one place every request passes:
 * answers the CORS preflight (`OPTIONS`); authenticates the caller and applies the route's `auth` (401, 403);
 * refuses a cross-site write; validates params, query, body (1 MB cap, JSON, zod) and `If-Match`; checks that
 * a customer's order is theirs (404 otherwise, as for an order that does not exist); applies
 * `Idempotency-Key`; maps every failure to problem+json. All of it runs before any state is touched, so a
 * refused request changes nothing.
 */
export function endpoint<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(
  spec: RouteSpec<P, Q, B>,
  impl: (input: EndpointInput<Infer<P>, Infer<Q>, Infer<B>>) => Promise<HttpResponseInit>,
) {
  const httpRoute = '/api/' + spec.route;
  const handler = async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    let services: Services;
    try {
      services = getServices();
    } catch (err) {
      return errorToProblem(err, context);
    }
    const allowed = services.settings.CORS_ALLOWED_ORIGINS;
    if (request.method.toUpperCase() === 'OPTIONS') return preflight(request, allowed, methodsOf(spec.route));
    return withCors(await guarded(services, request, context), allowedOrigin(request, allowed));
  };
  /*
   * The HTTP function's span, named after the operation (its OpenAPI operationId), a child of the invocation's
   * (the Functions host's request; the local host's): route, method, status, and, from OrderService.handle,
   * the order, the command and its outcome. No query string, no header, no caller identity goes on it.
   */
  return (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> =>
    inSpan(
      spec.name,
      { attributes: { [attributeNames.httpMethod]: request.method, [attributeNames.httpRoute]: httpRoute } },
      (span) =>
        withCommandSpan(span, async () => {
          // Only a well-formed order id: a path segment is whatever the client sent.
          const orderId = Id.safeParse((request.params as Record<string, unknown>).orderId);
          if (orderId.success) span.setAttribute(attributeNames.orderId, orderId.data);
          const res = await handler(request, context);
          const status = res.status ?? 200;
          span.setAttribute(attributeNames.httpStatus, status);
          if (status >= 500) {
            span.setStatus({ code: SpanStatusCode.ERROR });
            span.setAttribute(attributeNames.errorType, String(status));
          }
          return res;
        }),
    );

  async function guarded(
    services: Services,
    request: HttpRequest,
    context: InvocationContext,
  ): Promise<HttpResponseInit> {
    const settings = services.settings;
    const authn = await authenticate(
      (name) => request.headers.get(name),
      {
        mode: authModeOf(settings),
        siteName: settings.WEBSITE_SITE_NAME,
        authEnabled: settings.WEBSITE_AUTH_ENABLED,
      },
      (token) => verifyDevelopmentToken(settings.DATA_DIR, token),
    );
    const decision = authorize(spec.auth, authn);
    if (!decision.ok) return refusal(decision.status, decision.detail, authn.kind === 'invalid');
    const access = decision.access;
    const identity = access.identity;
    if (spec.method !== 'GET') {
      const refused = crossSiteGuard(
        request,
        settings.CORS_ALLOWED_ORIGINS,
        new URL(publicBaseUrl(settings)).origin,
      );
      if (refused) return refused;
    }
    const errors: FieldError[] = [];
    const params = parsePart(spec.params, request.params, 'path', errors);
    const rawQuery = queryOf(request, errors);
    const query = spec.query
      ? parsePart(spec.query, rawQuery, 'query', errors)
      : (Object.keys(rawQuery).forEach((name) =>
          errors.push({ field: `query.${name}`, message: 'this operation takes no query parameters' }),
        ),
        undefined as Infer<Q>);
    let body = undefined as Infer<B>;
    let rawBody = '';
    if (spec.body) {
      const read = await readJsonBody(request);
      if (!read.ok) return read.res;
      rawBody = read.text;
      body = parsePart(spec.body, read.value, 'body', errors);
    }
    let expectedVersion: number | undefined;
    if (spec.ifMatch) {
      const ifMatch = parseIfMatch(request.headers.get('if-match'));
      if (ifMatch.kind === 'invalid')
        errors.push({ field: 'header.If-Match', message: 'must be "*" or an ETag such as "3"' });
      if (ifMatch.kind === 'version') expectedVersion = ifMatch.version;
    }
    const key = spec.idempotencyKey ? request.headers.get('idempotency-key') : null;
    if (key !== null && !/^[\x21-\x7e]{1,255}$/.test(key)) {
      errors.push({ field: 'header.Idempotency-Key', message: 'must be 1-255 visible ASCII characters' });
    }
    if (errors.length) return validationProblem(errors);

    // A customer reaches only their own orders; another's answers as one that does not exist, so ids of
    // other customers' orders cannot be probed. The customerId of an order is set by its first event and
    // never changes; the head's folded state carries it (one read whatever the order's history).
    const orderId = (params as { orderId?: unknown } | undefined)?.orderId;
    if (access.kind === 'customer' && typeof orderId === 'string') {
      try {
        const { state } = await services.orders.read(orderId);
        if (!state.exists || state.customerId !== access.customerId)
          return errorToProblem(new DomainError('not-found', 'order does not exist'), context);
      } catch (err) {
        return errorToProblem(err, context);
      }
    }

    const run = async (): Promise<HttpResponseInit> => {
      try {
        return await impl({
          services,
          params,
          query,
          body,
          expectedVersion,
          metadata: metadataOf(request, context, identity),
          access,
          identity,
          request,
          context,
        });
      } catch (err) {
        return errorToProblem(err, context);
      }
    };
    if (key === null) return run();
    return withIdempotencyKey(
      services,
      // Scoped by operation, parameters and caller, not the raw path: /ORDERS/x/ is the same resource as
      // /orders/x, and one caller's key never replays another caller's answer.
      `${spec.name} ${JSON.stringify(params)} ${JSON.stringify(identity?.id ?? null)} ${key}`,
      rawBody,
      request,
      run,
    );
  }
}

async function withIdempotencyKey(
  services: Services,
  scopedKey: string,
  rawBody: string,
  request: HttpRequest,
  run: () => Promise<HttpResponseInit>,
): Promise<HttpResponseInit> {
  const fingerprint = createHash('sha256')
    .update(`${scopedKey}\n${request.headers.get('if-match') ?? ''}\n${rawBody}`)
    .digest('hex');
  const reservation = await services.idempotency.reserve(scopedKey, fingerprint);
  switch (reservation.outcome) {
    case 'replay': {
      const r = reservation.response;
      return { status: r.status, headers: { ...r.headers, 'idempotent-replayed': 'true' }, body: r.body };
    }
    case 'mismatch':
      return problem(422, 'idempotency-key-reused', 'this Idempotency-Key was used for a different request', {
        errors: [{ field: 'header.Idempotency-Key', message: 'already used for a different request' }],
      });
    case 'in-progress':
      return problem(
        409,
        'idempotency-key-in-progress',
        'a request with this Idempotency-Key is still running; retry later',
        {
          errors: [{ field: 'header.Idempotency-Key', message: 'in progress' }],
        },
      );
    case 'reserved':
      break;
  }
  const res = await run();
  const status = res.status ?? 200;
  if (status >= 500) {
    await services.idempotency.release(scopedKey);
    return res;
  }
  const headers = Object.fromEntries(
    new Headers(res.headers as ConstructorParameters<typeof Headers>[0]).entries(),
  );
  const body =
    res.jsonBody !== undefined ? JSON.stringify(res.jsonBody) : typeof res.body === 'string' ? res.body : '';
  if (res.jsonBody !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  await services.idempotency.complete(scopedKey, { status, headers, body });
  return { status, headers, body };
}
