import { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { devSignInKey, signDevToken } from '../adapters/devSignIn';
import { authModeOf, Settings } from '../config/settings';
import { appRoles } from '../shared/appRoles';
import { FieldError, problem, validationProblem } from '../shared/problem';
import { MountedHandler, send } from './httpServer';
import { Logger } from './logger';

/** Where the local host serves the development sign-in: App Service Authentication's `/.auth/login/<provider>`. */
export const devSignInPath = '/.auth/login/dev';
/** Largest request body taken, in bytes. */
export const maxSignInBodyBytes = 16 * 1024;
/** How long a token is valid, in seconds: 8 hours, as `npm run token` without `--ttl`. */
export const devSignInTtlSeconds = 8 * 3600;

/** JSON in UTF-8, as the API takes it: `application/json` or a `+json` type, no other charset. */
const jsonType = /^application\/([a-z0-9.-]+\+)?json\s*(;\s*charset="?utf-8"?\s*)?$/i;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The request body: who to sign in as. */
export const devSignInBody = z.strictObject({
  /** The caller's id (a customer's id is their customerId). */
  sub: z
    .string()
    .regex(
      /^[A-Za-z0-9_.:@-]{1,128}$/,
      '1-128 letters, digits, _ . : @ or - (e.g. customer-42, alice@example.com)',
    ),
  /** App roles (src/shared/appRoles.ts); none for a customer. */
  roles: z
    .array(z.enum(appRoles, { error: `not an app role; the roles are ${appRoles.join(', ')}` }))
    .max(appRoles.length * 4)
    .default([]),
  /** A display name. */
  name: z
    .string()
    .regex(/^[^\p{Cc}]{1,128}$/u, '1-128 characters, no control characters')
    .optional(),
});

export interface DevSignInOptions {
  /** The data folder whose `dev-signin.key` signs the token (the one the API verifies with). */
  dataDir: string;
  /**
   * The origins a browser request may come from (`scheme://host:port`): the host's own. A request with an
   * `Origin` header naming another is refused.
   */
  ownOrigins: readonly string[];
  logger: Logger;
}

/** What the route needs of the local host's HTTP server. */
export interface Mounter {
  mount(prefix: string, handler: MountedHandler): void;
}

/**
 * The host's own origins for a host listening on 127.0.0.1:`port`: `http://127.0.0.1:<port>`,
 * `http://localhost:<port>`, and the origin of `PUBLIC_BASE_URL` when it is set (the address a developer
 * reaches the host by through a forwarded port, which the API also treats as its own).
 */
export function ownOrigins(port: number, publicBaseUrl: string | undefined): string[] {
  const origins = [`http://127.0.0.1:${port}`, `http://localhost:${port}`];
  if (publicBaseUrl) {
    try {
      const origin = new URL(publicBaseUrl).origin;
      if (origin !== 'null' && !origins.includes(origin)) origins.push(origin);
    } catch {
      // not a URL: the settings refuse it before this runs
    }
  }
  return origins;
}

/**
 * Mounts {@link devSignInRoute} on `http` at {@link devSignInPath} when the development sign-in is on
 * (`AUTH_MODE=development`, the default off Azure, refused on Azure by the settings); otherwise mounts nothing,
 * so the path answers 404 like any other unknown one.
 * @returns whether it mounted the route
 */
export function mountDevSignIn(http: Mounter, settings: Settings, port: number, logger: Logger): boolean {
  if (authModeOf(settings) !== 'development') return false;
  http.mount(
    devSignInPath,
    devSignInRoute({
      dataDir: settings.DATA_DIR,
      ownOrigins: ownOrigins(port, settings.PUBLIC_BASE_URL),
      logger,
    }),
  );
  return true;
}

/**
 * Reads the body up to `limit` bytes: `undefined` as soon as it is larger (the HTTP server discards the rest
 * after the answer). Rejects when the request is aborted or closed before its end.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      done();
      resolve(undefined);
    };
    const onEnd = () => {
      done();
      resolve(Buffer.concat(chunks));
    };
    const onError = (err: Error) => {
      done();
      reject(err);
    };
    const onClose = () => {
      done();
      reject(new Error('the request closed before its body ended'));
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
    req.once('close', onClose);
  });
}

const fieldProblem = (status: number, type: string, error: FieldError) =>
  problem(status, type, `${error.field}: ${error.message}`, { errors: [error] });

/**
 * `POST /.auth/login/dev`, the local development sign-in for pages served by the local host (issue 13's
 * dashboard): the same token as `npm run token` (a JWT, HS256, signed with `DATA_DIR/dev-signin.key` by
 * `signDevToken`), valid {@link devSignInTtlSeconds} seconds.
 *
 * Request: `Content-Type: application/json`, at most {@link maxSignInBodyBytes} bytes,
 * `{ "sub": "alice", "roles"?: ["orders.read"], "name"?: "Alice" }` (see {@link devSignInBody}).
 * Answer: 200 `{ "token": "<jwt>", "expiresAt": "<ISO 8601 UTC>" }` with `Cache-Control: no-store`.
 * Refusals, as problem details naming the field: 403 `header.origin` when an `Origin` header is present and is
 * not one of `ownOrigins`; 415 `header.content-type` when the body is not JSON; 413 `body` over the size; 400
 * `body` (not UTF-8 or not JSON), `body.sub`, `body.roles.<n>` (not an app role), `body.name`, `body.<other>`;
 * 405 for another method (`Allow: POST`); 404 under the path.
 *
 * Any page a browser opens can send a POST to 127.0.0.1, so no answer carries CORS headers (a page of another
 * origin can never read the token) and a request from another origin is refused before its body is read. The
 * token is never logged: the request line shows only the path, and the one log line names the subject and roles.
 */
export function devSignInRoute(options: DevSignInOptions): MountedHandler {
  let key: Uint8Array | undefined;
  const keyOf = () => (key ??= devSignInKey(options.dataDir));
  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<number> => {
    if (url.pathname !== devSignInPath && url.pathname !== devSignInPath + '/') {
      req.resume();
      return send(res, problem(404, 'no-route', `no route serves ${url.pathname.slice(0, 200)}`));
    }
    if (req.method !== 'POST') {
      req.resume();
      const answer = problem(
        405,
        'method-not-allowed',
        `${req.method ?? ''} is not allowed: sign in with POST`,
      );
      return send(res, { ...answer, headers: { ...answer.headers, allow: 'POST' } });
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !options.ownOrigins.includes(origin)) {
      req.resume();
      return send(
        res,
        fieldProblem(403, 'cross-origin-refused', {
          field: 'header.origin',
          message: `a page of ${origin.slice(0, 200)} may not sign in here; only the host's own pages may`,
        }),
      );
    }
    const type = req.headers['content-type'];
    if (type === undefined || !jsonType.test(type)) {
      req.resume();
      return send(
        res,
        fieldProblem(415, 'unsupported-media-type', {
          field: 'header.content-type',
          message: `must be application/json${type === undefined ? '' : `, got ${type.slice(0, 100)}`}`,
        }),
      );
    }
    const tooLarge = () =>
      send(
        res,
        fieldProblem(413, 'body-too-large', {
          field: 'body',
          message: `at most ${maxSignInBodyBytes} bytes`,
        }),
      );
    if (Number(req.headers['content-length'] ?? 0) > maxSignInBodyBytes) return tooLarge();
    const bytes = await readBody(req, maxSignInBodyBytes);
    if (bytes === undefined) return tooLarge();
    let parsed: unknown;
    try {
      parsed = JSON.parse(utf8.decode(bytes));
    } catch {
      return send(res, validationProblem([{ field: 'body', message: 'not JSON in UTF-8' }]));
    }
    const body = devSignInBody.safeParse(parsed);
    if (!body.success) {
      return send(
        res,
        validationProblem(
          body.error.issues.map((i) => ({
            // A strict object names unknown keys in `keys`, not in the path.
            field: [
              'body',
              ...i.path.map(String),
              ...(i.code === 'unrecognized_keys' ? i.keys.slice(0, 1) : []),
            ]
              .join('.')
              .slice(0, 200),
            message: i.message,
          })),
        ),
      );
    }
    const { sub, name } = body.data;
    const roles = [...new Set(body.data.roles)];
    const now = Math.floor(Date.now() / 1000);
    const token = await signDevToken(
      keyOf(),
      { sub, roles, ...(name ? { name } : {}) },
      devSignInTtlSeconds,
      now,
    );
    options.logger.info('auth', `development sign-in: ${sub} with roles [${roles.join(', ')}]`);
    return send(res, {
      status: 200,
      jsonBody: { token, expiresAt: new Date((now + devSignInTtlSeconds) * 1000).toISOString() },
      headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    });
  };
}
