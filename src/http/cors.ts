import { HttpRequest, HttpResponseInit } from '@azure/functions';
import { problem } from '../shared/problem';

/**
 * Browser safety: CORS for the origins of `CORS_ALLOWED_ORIGINS` only (none by default), and the guard that
 * keeps a cross-site page from changing state with a request a browser sends without a preflight.
 */

/** Request headers a browser may send cross-origin (after a preflight). */
export const corsAllowHeaders =
  'Authorization, Content-Type, If-Match, Idempotency-Key, traceparent, x-correlation-id';
/** Answer headers a browser script may read. */
export const corsExposeHeaders = 'ETag, Location, Content-Location, Retry-After, Idempotent-Replayed';
const preflightMaxAgeSeconds = '600';

/** The request's `Origin` when it is on the allowlist; undefined otherwise (no CORS headers are sent then). */
export function allowedOrigin(request: HttpRequest, allowed: readonly string[]): string | undefined {
  const origin = request.headers.get('origin');
  return origin !== null && allowed.includes(origin) ? origin : undefined;
}

const headersOf = (res: HttpResponseInit): Record<string, string> =>
  Object.fromEntries(new Headers(res.headers as ConstructorParameters<typeof Headers>[0]).entries());

/** Adds `Access-Control-Allow-Origin` for an allowed origin; every answer varies by `Origin`. */
export function withCors(res: HttpResponseInit, origin: string | undefined): HttpResponseInit {
  const headers = headersOf(res);
  headers.vary = headers.vary ? `${headers.vary}, Origin` : 'Origin';
  if (origin) {
    headers['access-control-allow-origin'] = origin;
    headers['access-control-expose-headers'] = corsExposeHeaders;
  }
  return { ...res, headers };
}

/**
 * An `OPTIONS` request: a CORS preflight from an allowed origin gets 204 with the route's methods and the
 * headers the API reads; from any other origin 403 (no CORS headers, so the browser refuses the real
 * request). Without `Origin` it is a plain `OPTIONS`: 204 with `Allow`.
 */
export function preflight(
  request: HttpRequest,
  allowed: readonly string[],
  methods: string[],
): HttpResponseInit {
  const allow = [...new Set([...methods, 'OPTIONS'])].join(', ');
  const origin = request.headers.get('origin');
  if (origin === null) return { status: 204, headers: { allow } };
  if (!allowed.includes(origin)) {
    const answer = problem(
      403,
      'cors-origin-refused',
      `the origin ${origin.slice(0, 200)} may not call this API`,
    );
    return { ...answer, headers: { ...(answer.headers as Record<string, string>), allow, vary: 'Origin' } };
  }
  return {
    status: 204,
    headers: {
      allow,
      vary: 'Origin',
      'access-control-allow-origin': origin,
      'access-control-allow-methods': allow,
      'access-control-allow-headers': corsAllowHeaders,
      'access-control-max-age': preflightMaxAgeSeconds,
    },
  };
}

const jsonType = /^application\/([a-z0-9.-]+\+)?json\s*(;.*)?$/i;

/**
 * The cross-site request guard of a state-changing request (POST, DELETE). A page on another site can make a
 * browser send a form POST (no preflight, the browser's cookies attached) but cannot, without a preflight the
 * allowlist refuses, send `Content-Type: application/json` or an `Authorization` header, nor hide its
 * `Origin`. So a write is refused (403) when its `Origin` is neither allowed nor the API's own, and (415) when
 * it carries neither a JSON content type nor `Authorization`. Undefined when the request passes.
 */
export function crossSiteGuard(
  request: HttpRequest,
  allowed: readonly string[],
  ownOrigin: string,
): HttpResponseInit | undefined {
  const origin = request.headers.get('origin');
  if (origin !== null && origin !== ownOrigin && !allowed.includes(origin)) {
    return problem(
      403,
      'cross-origin-refused',
      `a request from ${origin.slice(0, 200)} may not change state`,
    );
  }
  const type = request.headers.get('content-type');
  if ((type === null || !jsonType.test(type)) && request.headers.get('authorization') === null) {
    return problem(
      415,
      'unsupported-media-type',
      'a request that changes state must be sent as application/json (or carry Authorization)',
    );
  }
  return undefined;
}
