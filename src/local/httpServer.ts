import { HttpRequest, HttpResponse, HttpResponseInit } from '@azure/functions';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, IncomingMessage, Server, ServerResponse, STATUS_CODES } from 'node:http';
import { AddressInfo, Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { Duplex } from 'node:stream';
import { maxBodyBytes } from '../shared/httpLimits';
import { problem } from '../shared/problem';
import { FunctionsCore, RegisteredFunction } from './functionsCore';
import { createInvocationContext } from './invocation';
import { Logger } from './logger';
import { Router } from './router';
import { inRequestSpan } from './tracing';

/**
 * The route prefix of host.json (`extensions.http.routePrefix`, "api" when absent, as the Functions host
 * reads it: learn.microsoft.com/azure/azure-functions/functions-host-json#http), as a path prefix: "" or
 * "/api". Read from the host.json of the app, found upwards from this file (src/local or dist/src/local).
 */
export function hostRoutePrefix(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const file = join(dir, 'host.json');
    if (existsSync(file)) {
      const host = JSON.parse(readFileSync(file, 'utf8')) as {
        extensions?: { http?: { routePrefix?: unknown } };
      };
      const prefix = host.extensions?.http?.routePrefix;
      const value = typeof prefix === 'string' ? prefix : 'api';
      return value.replace(/^\/+|\/+$/g, '') ? '/' + value.replace(/^\/+|\/+$/g, '') : '';
    }
    if (dirname(dir) === dir) return '/api';
  }
}

const routePrefix = hostRoutePrefix();
/** How long a draining server still answers (503) requests already on their way, in ms. */
const drainGraceMs = 300;
/**
 * After an answer given before the request body was read, how much more of the body is read and
 * discarded (bytes, ms) before the connection is closed anyway (see {@link endAfterBody}).
 */
const discardLimitBytes = 64 * 1024 * 1024;
const discardTimeoutMs = 30_000;
/** How long a connection answered at the socket level (parser error, CONNECT) may linger, in ms. */
const rawLingerMs = 5_000;

/** Status of the answer to a request Node's HTTP parser refused, by the error's `code`. */
const parserErrorStatus: Record<string, number> = {
  HPE_HEADER_OVERFLOW: 431,
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 413,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
  HPE_INVALID_METHOD: 501,
};
/** A method that is a token (RFC 9110 section 9.1) followed by a space, at the start of a request. */
const tokenMethod = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ /;

/**
 * A complete HTTP/1.1 answer written straight to a socket that has no `ServerResponse` (a request the
 * parser refused, a CONNECT), with `Connection: close`. The socket is half-closed after the answer and
 * keeps reading (and discarding) what the client still sends, so closing it does not reset the
 * connection before the client has read the answer; it is destroyed once the client closes its side,
 * or after {@link rawLingerMs}. Without an answer, it only closes the connection that way.
 */
function answerOnSocket(socket: Duplex, answer?: HttpResponseInit): void {
  const destroyWhenWritten = () => {
    if (socket.writableFinished) socket.destroy();
    else socket.once('finish', () => socket.destroy());
  };
  const timer = setTimeout(() => socket.destroy(), rawLingerMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.once('end', destroyWhenWritten);
  socket.on('data', () => undefined);
  socket.resume();
  if (!answer) {
    if (!socket.writableEnded) socket.end();
    return;
  }
  const body = Buffer.from(JSON.stringify(answer.jsonBody));
  const status = answer.status ?? 500;
  const headers = {
    ...(answer.headers as Record<string, string>),
    'content-length': String(body.length),
    date: new Date().toUTCString(),
    connection: 'close',
  };
  const head =
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
    Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('') +
    '\r\n';
  socket.end(Buffer.concat([Buffer.from(head, 'latin1'), body]));
}

/**
 * Requests whose body the parser refused part-way (a malformed chunk): Node then neither ends nor
 * errors the request stream, so the readers below are told through this signal instead.
 */
const bodyRefused = new WeakMap<IncomingMessage, AbortController>();
const refusedSignal = (req: IncomingMessage): AbortSignal => {
  let controller = bodyRefused.get(req);
  if (!controller) bodyRefused.set(req, (controller = new AbortController()));
  return controller.signal;
};

/** The parser refused the body of the request being read (the handler answers 400). */
class BodyParseError extends Error {
  constructor(readonly code: string) {
    super(`the request body is not valid HTTP/1.1 (${code})`);
  }
}

/**
 * Node closes a `Connection: close` socket as soon as the answer is written. When the handler answered
 * before the request body was read (413 on Content-Length, 404, 401, ...), the body still arriving is
 * unread, and closing a socket with unread bytes makes the kernel reset the connection, which can reach
 * the client before it has read the answer. So, for a request not yet complete, `res.end` writes the
 * answer at once but ends the response only once the rest of the body has been read and discarded (up
 * to {@link discardLimitBytes} or {@link discardTimeoutMs}; past them the connection closes anyway).
 */
function endAfterBody(req: IncomingMessage, res: ServerResponse): void {
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  (res as { end: (...args: unknown[]) => ServerResponse }).end = (...args: unknown[]) => {
    if (req.complete) return end(...args);
    const cb = typeof args[args.length - 1] === 'function' ? (args.pop() as () => void) : undefined;
    const [chunk, encoding] = args as [string | Uint8Array | undefined, BufferEncoding | undefined];
    if (chunk !== undefined && chunk !== null) {
      if (!res.headersSent && !res.hasHeader('content-length'))
        res.setHeader('content-length', Buffer.byteLength(chunk as string, encoding));
      res.write(chunk, encoding ?? 'utf8');
    }
    void discardBody(req).then(() => end(cb));
    return res;
  };
}

/** Reads and discards the rest of a request body; resolves at its end, or past the bounds. */
function discardBody(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    const refused = refusedSignal(req);
    if (req.readableEnded || req.destroyed || refused.aborted) return resolve();
    let seen = 0;
    const done = () => {
      clearTimeout(timer);
      refused.removeEventListener('abort', done);
      req.off('data', onData);
      req.off('end', done);
      req.off('close', done);
      req.off('error', done);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > discardLimitBytes) done();
    };
    const timer = setTimeout(done, discardTimeoutMs);
    refused.addEventListener('abort', done);
    req.on('data', onData);
    req.once('end', done);
    req.once('close', done);
    req.once('error', done);
    req.resume();
  });
}

/**
 * Reads the body up to `limit` bytes; `undefined` as soon as it is larger (the rest is left for
 * {@link endAfterBody} to discard after the answer).
 */
function readAtMost(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const refused = refusedSignal(req);
    const onRefused = () => {
      cleanup();
      reject(refused.reason);
    };
    if (refused.aborted) return onRefused();
    refused.addEventListener('abort', onRefused);
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
      else {
        cleanup();
        resolve(undefined);
      }
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      refused.removeEventListener('abort', onRefused);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/**
 * A handler for paths the function routes do not serve that the local host itself serves (the local Event Grid topic, the
 * durable runtime's webhooks). It answers the request and resolves the status it sent.
 */
export type MountedHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<number>;

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

/** Reads the body up to `limit` bytes; `undefined` when it is larger (the rest is drained). */
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

/**
 * The request's headers for `HttpRequest`, in a null-prototype record: header names are the client's, so a
 * header named `__proto__` or `constructor` is an ordinary entry, never a prototype. Node's `req.headers` is a
 * plain object (it drops a `__proto__` header), so the names come from `req.headersDistinct` (null-prototype);
 * each value is Node's own combination of a repeated header (first one kept for `authorization`,
 * `content-type`, ...; joined with `, ` otherwise), and the distinct values joined for a name it dropped.
 */
function toHeaders(req: IncomingMessage): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  for (const name of Object.keys(req.headersDistinct)) {
    const combined = Object.prototype.hasOwnProperty.call(req.headers, name) ? req.headers[name] : undefined;
    const value = combined ?? req.headersDistinct[name];
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

export async function send(
  res: ServerResponse,
  result: HttpResponseInit | HttpResponse | undefined,
): Promise<number> {
  const response = result instanceof HttpResponse ? result : new HttpResponse(result ?? { status: 204 });
  const body = Buffer.from(await response.arrayBuffer());
  const headers = Object.create(null) as Record<string, string>;
  response.headers.forEach((value, key) => (headers[key] = value));
  res.writeHead(response.status, headers);
  res.end(body);
  return response.status;
}

/**
 * Serves the captured http-trigger registrations under host.json's route prefix, as the Functions host does: route
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
  /** The port listened on, once listening (asking the socket costs a system call per request). */
  private port = 0;

  /** Every method some function allows, for the `Allow` header of the answer to CONNECT. */
  private readonly allMethods = new Set<string>();
  /** Sockets already answered after a parser error (the parser reports each later chunk again). */
  private readonly answeredSockets = new WeakSet<Duplex>();
  /** The request each connection is reading or answering, the latest one when pipelined. */
  private readonly current = new WeakMap<Duplex, { req: IncomingMessage; res: ServerResponse }>();

  constructor(private readonly logger: Logger) {
    // Node's own answers to a missing Host header, a parser error, an unmet Expect and CONNECT have no
    // body (or none at all): each is answered here instead, as problem details.
    this.server = createServer({ requireHostHeader: false }, (req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 5_000;
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) =>
      this.onClientError(err, socket),
    );
    this.server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
      this.current.set(req.socket, { req, res });
      endAfterBody(req, res);
      const expect = String(req.headers.expect);
      this.logger.info('http', `${req.method} ${this.loggableTarget(req)} 417 (Expect: ${expect})`);
      void send(res, problem(417, 'expectation-failed', `only "Expect: 100-continue" is supported`));
    });
    this.server.on('connect', (req: IncomingMessage, socket: Duplex) => {
      this.logger.info('http', `CONNECT 405`);
      const answer = problem(405, 'method-not-allowed', 'CONNECT is not allowed: this is not a proxy');
      answerOnSocket(socket, {
        ...answer,
        headers: { ...(answer.headers as Record<string, string>), allow: this.allowList() },
      });
    });
  }

  private allowList(): string {
    return [...(this.allMethods.size ? this.allMethods : ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'])].join(
      ', ',
    );
  }

  private loggableTarget(req: IncomingMessage): string {
    try {
      return loggable(new URL(req.url ?? '/', 'http://localhost'));
    } catch {
      return '(invalid target)';
    }
  }

  /**
   * A request Node's HTTP parser refused (bad bytes in the request line or a header, a header section
   * over `maxHeaderSize`, an unknown or lowercase method, a timeout): answered as problem details with
   * `Connection: close` while the socket is writable, after the response in flight on it if any.
   */
  private onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    if (this.answeredSockets.has(socket)) return;
    this.answeredSockets.add(socket);
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const raw = (err as { rawPacket?: Buffer }).rawPacket;
    let status = parserErrorStatus[err.code ?? ''] ?? 400;
    // A lowercase or unknown method is 501 (RFC 9110 section 15.6.2); bytes that are no method are 400.
    if (status === 501 && !(raw && tokenMethod.test(raw.subarray(0, 64).toString('latin1')))) status = 400;
    const answer =
      status === 431
        ? problem(431, 'header-too-large', 'the request header section is too large')
        : status === 413
          ? problem(413, 'body-too-large', 'a chunk extension of the request body is too large')
          : status === 408
            ? problem(408, 'request-timeout', 'the request did not arrive in time')
            : status === 501
              ? problem(
                  501,
                  'method-not-implemented',
                  'the request method is not one this server knows (methods are case-sensitive)',
                )
              : problem(
                  400,
                  'bad-request',
                  `the request is not valid HTTP/1.1 (${err.code ?? 'parse error'})`,
                );
    // The error is in the body of the request being handled: its handler answers 400 (or has answered
    // already), then the connection closes, since the parser cannot find where the next request starts.
    const current = this.current.get(socket);
    if (current && !current.req.complete && !current.res.writableFinished) {
      this.logger.info('http', `parser error ${err.code ?? err.message} in a request body`);
      if (!current.res.headersSent) current.res.shouldKeepAlive = false;
      current.res.once('finish', () => answerOnSocket(socket));
      current.res.once('close', () => {
        if (!current.res.writableFinished) socket.destroy();
      });
      refusedSignal(current.req);
      bodyRefused.get(current.req)!.abort(new BodyParseError(err.code ?? 'parse error'));
      return;
    }
    this.logger.info('http', `parser error ${err.code ?? err.message}: ${status}`);
    // A response already on its way on this connection goes first; the answer follows it.
    const pending = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (pending && !pending.writableFinished) {
      pending.once('finish', () => (socket.writable ? answerOnSocket(socket, answer) : socket.destroy()));
      pending.once('close', () => {
        if (!pending.writableFinished) socket.destroy();
      });
      return;
    }
    answerOnSocket(socket, answer);
  }

  /**
   * Starts serving the http-trigger functions registered in `core`. Until then (the host listens before it
   * loads the app, so the app's settings can name the port) requests to function routes get 503.
   */
  serveFunctions(core: FunctionsCore): void {
    for (const fn of core.byTrigger('httpTrigger')) {
      const methods = (
        (fn.trigger.methods as string[] | undefined) ?? ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']
      ).map((m) => m.toUpperCase());
      methods.forEach((m) => this.allMethods.add(m));
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
      this.server.listen(port, host, () => {
        this.port = (this.server.address() as AddressInfo).port;
        resolve(this.port);
      });
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
    this.current.set(req.socket, { req, res });
    endAfterBody(req, res);
    if (this.draining) {
      req.resume();
      res.shouldKeepAlive = false;
      const answer = problem(503, 'shutting-down', 'the host is shutting down; retry shortly');
      await send(res, { ...answer, headers: { ...answer.headers, 'retry-after': '1' } });
      return;
    }
    const started = process.hrtime.bigint();
    const url = this.urlOf(req);
    if (!url || (req.httpVersion === '1.1' && req.headers.host === undefined)) {
      req.resume();
      const status = await send(
        res,
        url
          ? problem(400, 'bad-request-target', 'an HTTP/1.1 request must have a Host header')
          : problem(400, 'bad-request-target', 'the request target or Host header is not a valid URL'),
      );
      this.logger.info('http', `${req.method} ${this.loggableTarget(req)} ${status}`);
      return;
    }
    this.inFlight++;
    let status = 500;
    try {
      if (this.draining) res.shouldKeepAlive = false;
      status = await this.dispatch(req, res, url);
    } catch (err) {
      if (err instanceof BodyParseError) {
        if (!res.headersSent) status = await send(res, problem(400, 'bad-request', err.message));
      } else this.logger.error('http', 'request failed', err);
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
    const own = `http://127.0.0.1:${this.port}`;
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
    const path =
      routePrefix === ''
        ? url.pathname
        : url.pathname.startsWith(routePrefix + '/')
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
    const tooLarge = () =>
      send(res, problem(413, 'body-too-large', `the request body is over ${maxBodyBytes} bytes`));
    // Refused on its Content-Length before reading it; endAfterBody discards the body after the answer.
    if (Number(req.headers['content-length'] ?? 0) > maxBodyBytes) return tooLarge();
    const body = await readAtMost(req, maxBodyBytes);
    if (body === undefined) return tooLarge();
    const request = new HttpRequest({
      method,
      url: url.toString(),
      headers: toHeaders(req),
      // No `query`: HttpRequest then takes `request.query` (URLSearchParams) from the URL itself, every
      // parameter as given, repeats included, instead of a plain object keyed by the client's names.
      params: match.params,
      body: { bytes: body },
    });
    const fn = match.target;
    return inRequestSpan(
      {
        method,
        route: `${routePrefix}/${String(fn.trigger.route ?? '')}`,
        url,
        headers: req.headers,
      },
      async (traceParent) => {
        const context = createInvocationContext(fn, this.logger, { traceParent });
        const result = (await fn.callback(request, context)) as HttpResponseInit | HttpResponse | undefined;
        return send(res, result);
      },
    );
  }
}
