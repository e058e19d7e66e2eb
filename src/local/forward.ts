import { Agent, IncomingMessage, request, ServerResponse } from 'node:http';
import { problemContentType } from '../shared/problem';
import { MountedHandler } from './httpServer';
import { Logger } from './logger';

/**
 * A mounted handler passing each request, as it is, to a loopback server on `port()` (the pipeline thread's
 * local topic) and its answer back. While there is no such server (the thread is starting or starting again),
 * or it fails, the answer is 503 with `Retry-After`, in the JSON shape of Event Grid's errors (`shape`
 * `eventgrid`) or as problem details (`problem`); a client retries then, as it does when Azure is busy.
 */
export function forwardTo(
  port: () => number | undefined,
  logger: Logger,
  shape: 'eventgrid' | 'problem' = 'eventgrid',
): MountedHandler {
  const agent = new Agent({ keepAlive: true });
  return (req: IncomingMessage, res: ServerResponse) =>
    new Promise<number>((resolve) => {
      const unavailable = (why: string) => {
        req.resume();
        if (res.headersSent) {
          res.destroy();
          return resolve(502);
        }
        if (shape === 'problem') {
          const body = {
            type: '/problems/unavailable',
            title: 'Service Unavailable',
            status: 503,
            detail: why,
          };
          res.writeHead(503, { 'content-type': problemContentType, 'retry-after': '1' });
          res.end(JSON.stringify(body));
        } else {
          res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
          res.end(JSON.stringify({ error: { code: 'ServiceUnavailable', message: why } }));
        }
        resolve(503);
      };
      const target = port();
      if (target === undefined) return unavailable('the local topic is starting; retry shortly');
      const upstream = request(
        { host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers, agent },
        (answer) => {
          const status = answer.statusCode ?? 502;
          res.writeHead(status, answer.headers);
          answer.pipe(res);
          answer.on('end', () => resolve(status));
          answer.on('error', () => unavailable('the local topic failed while answering'));
        },
      );
      upstream.on('error', (err) => {
        logger.warn('eventgrid', 'the local topic did not answer', err.message);
        unavailable('the local topic did not answer; retry shortly');
      });
      req.pipe(upstream);
    });
}
