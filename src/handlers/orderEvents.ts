import { DomainError } from '../domain/decider';
import { endpoint } from '../http/endpoint';
import { orderEventsRoute } from '../http/routes';
import { encodeEventsToken } from '../ports/eventStore';

/**
 * The audit trail, one page at a time: `limit` events (default 100) after the version the continuation token
 * names, read by version range (src/ports/eventStore.ts, `readEvents`), never the whole stream. The answer
 * carries a token while later events follow.
 */
export const orderEvents = endpoint(orderEventsRoute, async ({ services, params, query }) => {
  const after = query.continuationToken ?? 0;
  const page = await services.store.readEvents(params.orderId, after, query.limit);
  if (page.version === 0) throw new DomainError('not-found', 'order does not exist');
  // The audit trail shows events as recorded (stored schema version, data not upcast).
  const events = page.events.map((e) => ({
    type: e.type,
    schemaVersion: e.schemaVersion,
    version: e.version,
    occurredAt: e.occurredAt,
    recordedAt: e.recordedAt,
    data: e.data,
    metadata: e.metadata,
  }));
  const last = events.length ? events[events.length - 1].version : after;
  return {
    status: 200,
    jsonBody: {
      orderId: params.orderId,
      version: page.version,
      events,
      ...(last < page.version ? { continuationToken: encodeEventsToken(last) } : {}),
    },
  };
});
