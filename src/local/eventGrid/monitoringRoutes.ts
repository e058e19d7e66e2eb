import { IncomingMessage, ServerResponse } from 'node:http';
import { FieldError, problem, validationProblem } from '../../shared/problem';
import { MountedHandler, send } from '../httpServer';
import { Logger } from '../logger';
import { LocalEventGridTopic } from './topic';

/** Longest `subject` the deliveries route takes, in characters. */
export const maxSubjectChars = 200;
/** Most attempts one answer of the deliveries route lists. */
export const maxDeliveriesListed = 200;

const deliveriesPath = '/eventgrid/deliveries';
const statsPath = '/eventgrid/stats';

/** The JSON answer of a read route; never cached, never readable by another origin (no CORS headers). */
const json = (res: ServerResponse, body: unknown): Promise<number> =>
  send(res, {
    status: 200,
    jsonBody: body,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  });

/**
 * The query of the deliveries route: `subject` once, 1-{@link maxSubjectChars} characters, nothing else
 * (an empty value counts as absent, as the API reads queries). Names come from the client, so they are only
 * compared and quoted in messages, never used as keys.
 */
function subjectOf(url: URL): { subject: string } | { errors: FieldError[] } {
  const errors: FieldError[] = [];
  let subject: string | undefined;
  let seen = false;
  for (const [name, value] of url.searchParams) {
    if (name !== 'subject') {
      errors.push({ field: `query.${name.slice(0, 100)}`, message: 'this route takes only subject' });
    } else if (seen) {
      errors.push({ field: 'query.subject', message: 'given more than once' });
    } else {
      seen = true;
      if (value !== '') subject = value;
    }
  }
  if (subject === undefined) {
    errors.unshift({
      field: 'query.subject',
      message: "required: the events' subject, e.g. orders/{orderId}",
    });
  } else if (subject.length > maxSubjectChars) {
    errors.unshift({ field: 'query.subject', message: `at most ${maxSubjectChars} characters` });
  }
  return errors.length || subject === undefined ? { errors } : { subject };
}

/**
 * The local topic's local-only read routes, the stand-ins for what Event Grid shows on Azure as the event
 * subscriptions' metrics (Delivered Events, Delivery Failed Events, Dead Lettered Events) and, for one order,
 * its diagnostic logs. Mounted by the local host on `/eventgrid/`; every other path there goes to `topic.handle`
 * (the publish endpoint). Not on Azure, where Azure Monitor answers these questions.
 *
 * - `GET /eventgrid/deliveries?subject=orders/{orderId}` → 200 `application/json`
 *   `{ items: [{ subscription, eventId, type, subject, attempt, outcome, status?, error?, at }] }`, newest first,
 *   at most {@link maxDeliveriesListed}; `outcome` is `delivered | retrying | deadLettered | dropped`, `status`
 *   the webhook's HTTP status when it answered, `error` why the attempt failed, `at` an ISO 8601 UTC time.
 *   400 problem naming `query.subject` when it is missing, empty, repeated or over {@link maxSubjectChars}
 *   characters, and any other parameter (`query.<name>`).
 * - `GET /eventgrid/stats` → 200 `application/json`
 *   `{ subscriptions: [{ name, pending, deliveredLastHour, failedAttemptsLastHour, deadLettered }], pending,
 *   failedAttemptsLastHour, deadLettered }` (see {@link LocalEventGridTopic.stats}); 500 problem when the
 *   dead-letter store cannot be listed.
 *
 * Both answer 405 (with `Allow: GET`) to another method. No CORS headers: a page of another origin cannot read
 * them.
 */
export function eventGridRoutes(topic: LocalEventGridTopic, logger: Logger): MountedHandler {
  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<number> => {
    const path = url.pathname.replace(/\/$/, '');
    if (path !== deliveriesPath && path !== statsPath) return topic.handle(req, res, url);
    req.resume();
    if (req.method !== 'GET') {
      const answer = problem(405, 'method-not-allowed', `${req.method ?? ''} is not allowed on ${path}`);
      return send(res, { ...answer, headers: { ...answer.headers, allow: 'GET' } });
    }
    if (path === deliveriesPath) {
      const query = subjectOf(url);
      if ('errors' in query) return send(res, validationProblem(query.errors));
      const items = topic.attemptsOf(query.subject, maxDeliveriesListed).map((a) => ({
        subscription: a.subscription,
        eventId: a.eventId,
        type: a.type,
        subject: a.subject,
        attempt: a.attempt,
        outcome: a.outcome,
        ...(a.status !== undefined ? { status: a.status } : {}),
        ...(a.error !== undefined ? { error: a.error } : {}),
        at: new Date(a.at).toISOString(),
      }));
      return json(res, { items });
    }
    if ([...url.searchParams.keys()].length) {
      const name = [...url.searchParams.keys()][0].slice(0, 100);
      return send(
        res,
        validationProblem([{ field: `query.${name}`, message: 'this route takes no query parameters' }]),
      );
    }
    try {
      return await json(res, await topic.stats());
    } catch (err) {
      logger.error('eventgrid', 'stats failed', err);
      return send(res, problem(500, 'internal', 'the stats failed; see the host log'));
    }
  };
}
