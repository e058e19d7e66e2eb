import { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { maxBodyBytes } from '../../shared/httpLimits';
import { problemContentType } from '../../shared/problem';
import { MountedHandler, readBody } from '../httpServer';
import { RuntimeStatus } from './durableStore';
import { LocalDurableRuntime, rpcSegment, webhookPrefix } from './runtime';

const runtimeStatuses: RuntimeStatus[] = ['Pending', 'Running', 'Completed', 'Failed', 'Terminated'];

function reply(
  res: ServerResponse,
  status: number,
  body?: unknown,
  headers: Record<string, string> = {},
): number {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    ...(body === undefined
      ? {}
      : { 'content-type': status >= 400 ? problemContentType : 'application/json' }),
    ...headers,
  });
  res.end(text);
  return status;
}

const problemOf = (status: number, detail: string, field?: string) => ({
  type: '/problems/durable',
  title: 'Durable Functions API',
  status,
  detail,
  ...(field ? { errors: [{ field, message: detail }] } : {}),
});

/** True when the text is empty or valid JSON. */
function isJsonOrEmpty(text: string): boolean {
  if (text === '') return true;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Placeholder for the system key in the URL the host logs for each request. */
const redacted = 'REDACTED';

/**
 * The Durable Functions extension's HTTP API under `/runtime/webhooks/durabletask/`, as far as the
 * `DurableClient` of durable-functions 3.x calls it through `rpcBaseUrl`, and with the same answers as the
 * extension's HttpApiHandler: start (`orchestrators/{name}[/{id}]`: 202, 409 when the id is Pending or
 * Running, 400 for an unknown orchestrator), status (`instances/{id}`: 202 while Pending or Running, 200
 * after, 404), list (`instances/`), raise event (202, 410 once finished, 404), terminate (202, 410, 404),
 * purge (`DELETE instances/{id}`: 200, 412 while running, 404). Rewind, restart, suspend, resume and
 * entities answer 501. With a manual clock, `local/clock` (GET) and `local/clock/advance?ms=` (POST) read
 * and move the runtime's time (a local test aid, not part of the extension).
 *
 * Every request needs the runtime's system key, as on Azure: the `code` query parameter, or the path
 * prefix `rpc/{key}/` of the client binding's `rpcBaseUrl`; otherwise 401. The key is replaced by
 * `REDACTED` in the URL object the host logs. A path with malformed percent-encoding answers 400.
 */
export function durableWebhooks(runtime: LocalDurableRuntime): MountedHandler {
  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<number> => {
    const method = (req.method ?? 'GET').toUpperCase();
    const self = new URL(url.toString());
    let raw = url.pathname.slice(webhookPrefix.length).split('/').filter(Boolean);
    const viaRpc = raw[0] === rpcSegment && runtime.isKey(raw[1]);
    const authorized = viaRpc || runtime.isKey(url.searchParams.get('code'));
    if (viaRpc) {
      raw = raw.slice(2);
      url.pathname = `${webhookPrefix}${rpcSegment}/${redacted}/${raw.join('/')}`;
    }
    if (url.searchParams.has('code')) url.searchParams.set('code', redacted);
    if (!authorized) {
      req.resume();
      return reply(
        res,
        401,
        problemOf(
          401,
          'The durable webhooks need the system key: the `code` query parameter (see docs/durable.md).',
          'query.code',
        ),
      );
    }
    let segments: string[];
    try {
      segments = raw.map((s) => decodeURIComponent(s));
    } catch {
      req.resume();
      return reply(res, 400, problemOf(400, 'The path has malformed percent-encoding.', 'path'));
    }
    const body = await readBody(req, maxBodyBytes);
    if (body === undefined)
      return reply(res, 413, problemOf(413, `the request body is over ${maxBodyBytes} bytes`));
    const text = body.toString('utf8');
    const origin = `http://${req.headers.host ?? 'localhost'}`;
    const [head, ...rest] = segments;

    if (head === 'orchestrators' && method === 'POST' && rest.length >= 1 && rest.length <= 2) {
      if (!isJsonOrEmpty(text)) return reply(res, 400, problemOf(400, 'Invalid JSON content', 'body'));
      const instanceId = rest[1] ?? randomUUID().replace(/-/g, '');
      const result = runtime.startNew(rest[0], instanceId, text === '' ? null : text);
      if (result === 'unknown-function') {
        return reply(
          res,
          400,
          problemOf(
            400,
            `The function '${rest[0]}' doesn't exist, is disabled, or is not an orchestrator function.`,
            'functionName',
          ),
        );
      }
      if (result === 'exists') {
        return reply(
          res,
          409,
          problemOf(
            409,
            `An Orchestration instance with the ID '${instanceId}' already exists.`,
            'instanceId',
          ),
        );
      }
      const payload = runtime.managementPayload(instanceId, origin);
      return reply(res, 202, payload, { location: payload.statusQueryGetUri, 'retry-after': '10' });
    }

    if (head === 'instances') {
      const [instanceId, operation, eventName] = rest;
      if (!instanceId && method === 'GET') {
        const statuses = (url.searchParams.get('runtimeStatus') ?? '')
          .split(',')
          .filter((s): s is RuntimeStatus => runtimeStatuses.includes(s as RuntimeStatus));
        const list = runtime.list(
          {
            statuses,
            createdFrom: url.searchParams.get('createdTimeFrom') ?? undefined,
            createdTo: url.searchParams.get('createdTimeTo') ?? undefined,
            prefix: url.searchParams.get('instanceIdPrefix') ?? undefined,
          },
          url.searchParams.get('showInput') !== 'false',
        );
        return reply(res, 200, list);
      }
      if (instanceId && !operation) {
        if (method === 'GET') {
          const status = runtime.status(instanceId, {
            showInput: url.searchParams.get('showInput') !== 'false',
            showHistory: url.searchParams.get('showHistory') === 'true',
          });
          if (!status)
            return reply(
              res,
              404,
              problemOf(404, `No instance with ID '${instanceId}' found.`, 'instanceId'),
            );
          const running = status.runtimeStatus === 'Pending' || status.runtimeStatus === 'Running';
          return reply(
            res,
            running ? 202 : 200,
            status,
            running ? { location: self.toString(), 'retry-after': '5' } : {},
          );
        }
        if (method === 'DELETE') {
          const result = runtime.purge(instanceId);
          if (result === 'not-found')
            return reply(
              res,
              404,
              problemOf(404, `No instance with ID '${instanceId}' found.`, 'instanceId'),
            );
          if (result === 'running') {
            return reply(
              res,
              412,
              problemOf(
                412,
                `Only orchestrations in a terminal state can be purged; '${instanceId}' is still running.`,
              ),
            );
          }
          return reply(res, 200, { instancesDeleted: 1 });
        }
      }
      if (instanceId && operation === 'raiseEvent' && eventName && method === 'POST') {
        const type = req.headers['content-type'] ?? '';
        if (!/^application\/json\b/i.test(type)) {
          return reply(
            res,
            400,
            problemOf(400, 'Only application/json request content is supported', 'content-type'),
          );
        }
        if (!isJsonOrEmpty(text)) return reply(res, 400, problemOf(400, 'Invalid JSON content', 'body'));
        const result = runtime.raiseEvent(instanceId, eventName, text === '' ? null : text);
        if (result === 'not-found')
          return reply(res, 404, problemOf(404, `No instance with ID '${instanceId}' found.`, 'instanceId'));
        if (result === 'gone') return reply(res, 410);
        return reply(res, 202);
      }
      if (instanceId && operation === 'terminate' && method === 'POST') {
        const result = runtime.terminate(instanceId, url.searchParams.get('reason') ?? '');
        if (result === 'not-found')
          return reply(res, 404, problemOf(404, `No instance with ID '${instanceId}' found.`, 'instanceId'));
        if (result === 'gone') return reply(res, 410);
        return reply(res, 202);
      }
      if (
        instanceId &&
        ['rewind', 'restart', 'suspend', 'resume'].includes(operation ?? '') &&
        method === 'POST'
      ) {
        return reply(
          res,
          501,
          problemOf(501, `${operation} is not supported by the local durable runtime; see docs/durable.md.`),
        );
      }
    }

    if (head === 'entities')
      return reply(
        res,
        501,
        problemOf(501, 'Durable entities are not supported by the local durable runtime.'),
      );

    if (head === 'local' && rest[0] === 'clock' && runtime.clock.mode !== 'system') {
      if (rest.length === 1 && method === 'GET') {
        return reply(res, 200, {
          mode: runtime.clock.mode,
          now: runtime.clock.now().toISOString(),
          offsetMs: runtime.clock.offset,
        });
      }
      if (rest[1] === 'advance' && method === 'POST') {
        const ms = Number(url.searchParams.get('ms'));
        if (!Number.isFinite(ms) || ms < 0)
          return reply(
            res,
            400,
            problemOf(400, 'ms must be a non-negative number of milliseconds', 'query.ms'),
          );
        return reply(res, 200, { now: runtime.advanceClock(ms).toISOString() });
      }
    }

    return reply(res, 404, problemOf(404, `no durable API at ${url.pathname}`));
  };
}
