import { readOverview, readRecentEvents } from '../app/overview';
import { endpoint } from '../http/endpoint';
import { isCustomerId } from '../http/identity';
import { meRoute, overviewRoute, recentEventsRoute } from '../http/routes';

/** Roles that read every order; a caller without them reads orders as a customer, their own only. */
const readsAllOrders = new Set(['orders.read', 'orders.approve', 'orders.admin']);

/** `GET /api/me`: the signed-in caller, as the API sees them (the dashboard's sign-in). */
export const me = endpoint(meRoute, async ({ identity }) => {
  // The route is `authenticated`, so endpoint() has verified a caller before this runs.
  const caller = identity!;
  return {
    status: 200,
    jsonBody: {
      id: caller.id,
      name: caller.name,
      roles: caller.roles,
      // Only an id that follows the id convention can act as a customer (src/http/identity.ts).
      customer: !caller.roles.some((r) => readsAllOrders.has(r)) && isCustomerId(caller.id),
    },
  };
});

/** `GET /api/overview`: the order flow now (src/app/overview.ts). */
export const overview = endpoint(overviewRoute, async ({ services, query }) => ({
  status: 200,
  jsonBody: await readOverview(services, query.minutes),
}));

/** `GET /api/events/recent`: the latest committed events, as recorded (not upcast, as the audit trail). */
export const recentEvents = endpoint(recentEventsRoute, async ({ services, query }) => {
  const { items, scannedCommits } = await readRecentEvents(services.store, query.limit, query.types);
  return {
    status: 200,
    jsonBody: {
      items: items.map((e) => ({
        orderId: e.orderId,
        version: e.version,
        type: e.type,
        schemaVersion: e.schemaVersion,
        occurredAt: e.occurredAt,
        recordedAt: e.recordedAt,
        actor: e.metadata.actor,
        data: e.data,
      })),
      scannedCommits,
    },
  };
});
