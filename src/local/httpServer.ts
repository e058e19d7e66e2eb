import { HttpRequest, HttpResponse, HttpResponseInit } from '@azure/functions';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { maxBodyBytes } from '../shared/httpLimits';
import { problem } from '../shared/problem';
import { FunctionsCore, RegisteredFunction } from './functionsCore';
import { createInvocationContext } from './invocation';
import { Logger } from './logger';
import { Router } from './router';

const routePrefix = '/api';
/** How long a draining server still answers (503) requests already on their way, in ms. */
const drainGraceMs = 300;

/**
 * A handler for paths outside `/api` that the local host itself serves (the local Event Grid topic, the
 * durable runtime's webhooks). It answers the request and resolves the status it sent.
 */
export type MountedHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<number>;

/** Reads the body up to `limit` bytes; `undefined` when it is larger (the rest is drained). */
/**
 * The request URL as the log shows it: keys never appear (the `code` query parameter of Azure Functions
 * and of the durable webhooks, the `rpc/{key}/` path prefix of the durable client's base URL).
 */
export function loggable(url: URL): string {
  const path = url.pathname.replace(/\/rpc\/[^/]+/, '/rpc/REDACTED');
  const query = new URLSearchParams(url.search);
  if (query.has('code')) query.set('code', 'REDACTED');
  const search = query.toString();
  return path + (search ? `?${search}` : '');
}

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) over = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function toHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers))
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

export async function send(
  res: ServerResponse,
  result: HttpResponseInit | HttpResponse | undefined,
): Promise<number> {
  const response = result instanceof HttpResponse ? result : new HttpResponse(result ?? { status: 204 });
  const body = Buffer.from(await response.arrayBuffer());
  const headers: Record<string, string> = {};
  response.headers.forEach((value, key) => (headers[key] = value));
  res.writeHead(response.status, headers);
  res.end(body);
  return response.status;
}

/**
 * Serves the captured http-trigger registrations under `/api`, as the Functions host does: route
 * templates, methods, an `HttpRequest` built with its public constructor, one log line per request.
 * `close()` stops taking connections and resolves once every request in flight has been answered.
 */
export class LocalHttpServer {
  private readonly router = new Router<RegisteredFunction>();
  private readonly server: Server;
  private inFlight = 0;
  private drained?: () => void;
  private draining = false;
  private readonly mounts: { prefix: string; handler: MountedHandler }[] = [];
  private serving = false;

  constructor(private readonly logger: Logger) {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 5_000;
  }

  /**
   * Starts serving the http-trigger functions registered in `core`. Until then (the host listens before it
   * loads the app, so the app's settings can name the port) requests under `/api` get 503.
   */
  serveFunctions(core: FunctionsCore): void {
    for (const fn of core.byTrigger('httpTrigger')) {
      const methods = (
        (fn.trigger.methods as string[] | undefined) ?? ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']
      ).map((m) => m.toUpperCase());
      this.router.add({
        template: (fn.trigger.route as string | undefined) ?? fn.metadata.name,
        methods,
        target: fn,
      });
    }
    this.serving = true;
  }

  /** Serves every path under `prefix` (e.g. `/eventgrid/`) with `handler` instead of the functions. */
  mount(prefix: string, handler: MountedHandler): void {
    this.mounts.push({ prefix, handler });
  }

  listen(port: number, host = '127.0.0.1'): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve((this.server.address() as AddressInfo).port));
    });
  }

  /**
   * Drains: stops taking connections; requests in flight are answered (with `Connection: close`), and
   * requests that arrive on connections already open get 503 with `Retry-After` instead of a reset.
   * Once none is in flight, and after a short grace for requests already on their way, it closes every
   * connection left.
   */
  close(): Promise<void> {
    this.draining = true;
    this.server.close();
    return new Promise((resolve) => {
      const finish = () =>
        setTimeout(() => {
          this.server.closeAllConnections();
          resolve();
        }, drainGraceMs);
      if (this.inFlight === 0) finish();
      else this.drained = finish;
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.draining) {
      req.resume();
      res.shouldKeepAlive = false;
      const answer = problem(503, 'shutting-down', 'the host is shutting down; retry shortly');
      await send(res, { ...answer, headers: { ...answer.headers, 'retry-after': '1' } });
      return;
    }
    const started = process.hrtime.bigint();
    const url = this.urlOf(req);
    if (!url) {
      req.resume();
      await send(
        res,
        problem(400, 'bad-request-target', 'the request target or Host header is not a valid URL'),
      );
      return;
    }
    this.inFlight++;
    let status = 500;
    try {
      if (this.draining) res.shouldKeepAlive = false;
      status = await this.dispatch(req, res, url);
    } catch (err) {
      this.logger.error('http', 'request failed', err);
      if (!res.headersSent)
        status = await send(res, problem(500, 'internal', 'the request failed; it has been logged'));
    } finally {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      this.logger.info('http', `${req.method} ${loggable(url)} ${status} ${ms.toFixed(1)}ms`);
      if (--this.inFlight === 0 && this.drained) this.drained();
    }
  }

  /**
   * The request's URL: its Host header when that makes a plain URL (no credentials), else this server's
   * own address; undefined when the request target itself is not a valid path.
   */
  private urlOf(req: IncomingMessage): URL | undefined {
    const target = req.url ?? '/';
    if (!target.startsWith('/')) return undefined;
    const own = `http://127.0.0.1:${(this.server.address() as AddressInfo | null)?.port ?? 0}`;
    for (const base of [`http://${req.headers.host ?? ''}`, own]) {
      try {
        const url = new URL(base + target);
        if (!url.username && !url.password && url.pathname.startsWith('/')) return url;
      } catch {
        // not a usable base: try the next
      }
    }
    return undefined;
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse, url: URL): Promise<number> {
    const mounted = this.mounts.find((m) => url.pathname.startsWith(m.prefix));
    if (mounted) return mounted.handler(req, res, url);
    const method = (req.method ?? 'GET').toUpperCase();
    if (!this.serving) {
      req.resume();
      const answer = problem(503, 'starting', 'the host is starting; retry shortly');
      return send(res, { ...answer, headers: { ...answer.headers, 'retry-after': '1' } });
    }
    const path = url.pathname.startsWith(routePrefix + '/')
      ? url.pathname.slice(routePrefix.length)
      : undefined;
    const match = path === undefined ? ({ miss: 'route' } as const) : this.router.match(method, path);
    if ('miss' in match) {
      req.resume();
      if (match.miss === 'encoding') {
        return send(
          res,
          problem(400, 'validation', `path.${match.param}: malformed percent-encoding`, {
            errors: [{ field: `path.${match.param}`, message: 'malformed percent-encoding' }],
          }),
        );
      }
      if (match.miss === 'method') {
        const answer = problem(405, 'method-not-allowed', `${method} is not allowed on ${url.pathname}`);
        return send(res, { ...answer, headers: { ...answer.headers, allow: match.allowed.join(', ') } });
      }
      return send(res, problem(404, 'no-route', `no function serves ${url.pathname}`));
    }
    const body = await readBody(req, maxBodyBytes);
    if (body === undefined)
      return send(res, problem(413, 'body-too-large', `the request body is over ${maxBodyBytes} bytes`));
    const request = new HttpRequest({
      method,
      url: url.toString(),
      headers: toHeaders(req),
      query: Object.fromEntries(url.searchParams.entries()),
      params: match.params,
      body: { bytes: body },
    });
    const fn = match.target;
    const context = createInvocationContext(fn, this.logger, {
      traceParent: req.headers.traceparent as string | undefined,
    });
    const result = (await fn.callback(request, context)) as HttpResponseInit | HttpResponse | undefined;
    return send(res, result);
  }
}
