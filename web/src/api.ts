import type { Problem } from './types';

/**
 * Every request of the page: same origin, JSON. Signed in locally (development sign-in) the token is kept in
 * sessionStorage and sent as a bearer token; on Azure App Service Authentication's session cookie goes by
 * itself (same-origin credentials) and no header is added.
 */
const tokenKey = 'orders-dashboard.token';

export const session = {
  token: (): string | null => sessionStorage.getItem(tokenKey),
  save: (token: string): void => sessionStorage.setItem(tokenKey, token),
  clear: (): void => sessionStorage.removeItem(tokenKey),
};

/** An answer other than 2xx: the status and the problem details' text. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem | undefined,
  ) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
  }
}

let signedOut: () => void = () => undefined;
/** Called when an API call answers 401 (the token expired, the session ended). */
export const onSignedOut = (handler: () => void): void => {
  signedOut = handler;
};

export interface Answer<T> {
  status: number;
  body: T;
  headers: Headers;
}

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export async function request<T>(
  method: string,
  path: string,
  options: RequestOptions = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  const token = session.token();
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    credentials: 'same-origin',
    cache: 'no-store',
    signal: options.signal,
  });
  const text = await res.text();
  let body: unknown = undefined;
  if (text && /json/.test(res.headers.get('content-type') ?? '')) body = JSON.parse(text);
  if (!res.ok) {
    if (res.status === 401 && path.startsWith('/api/') && path !== '/api/me') signedOut();
    throw new ApiError(res.status, body as Problem | undefined);
  }
  return { status: res.status, body: body as T, headers: res.headers };
}

export const get = async <T>(path: string, signal?: AbortSignal): Promise<T> =>
  (await request<T>('GET', path, { signal })).body;

/** A route that exists only on some hosts (the local host's Event Grid routes): null when it answers 404. */
export async function getIfPresent<T>(path: string, signal?: AbortSignal): Promise<T | null> {
  try {
    return await get<T>(path, signal);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

/** A query string from the defined values; an array repeats its parameter. Empty when nothing is set. */
export function query(
  params: Record<string, string | number | readonly string[] | undefined | null>,
): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) for (const item of v as readonly string[]) q.append(k, item);
    else q.set(k, String(v));
  }
  const text = q.toString();
  return text ? `?${text}` : '';
}

/** A fresh Idempotency-Key for one command. */
export function idempotencyKey(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join(
    '',
  );
}

export const errorText = (err: unknown): string =>
  err instanceof ApiError
    ? `${err.status}: ${err.message}`
    : err instanceof Error
      ? err.message
      : String(err);
