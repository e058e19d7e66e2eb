import { DomainError } from '../domain/decider';
import { endpoint } from '../http/endpoint';
import { orderEventsRoute } from '../http/routes';

export const orderEvents = endpoint(orderEventsRoute, async ({ services, params }) => {
  const slice = await services.store.readStream(params.orderId);
  if (slice.version === 0) throw new DomainError('not-found', 'order does not exist');
  // The audit trail shows events as recorded (stored schema version, data not upcast).
  const events = slice.events.map((e) => ({
    type: e.type,
    schemaVersion: e.schemaVersion,
    version: e.version,
    occurredAt: e.occurredAt,
    recordedAt: e.recordedAt,
    data: e.data,
    metadata: e.metadata,
  }));
  return { status: 200, jsonBody: { orderId: params.orderId, version: slice.version, events } };
});
