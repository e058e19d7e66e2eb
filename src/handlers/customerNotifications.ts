import { InvocationContext } from '@azure/functions';
import { consume, notifyCustomer, receive } from '../app/consumers';
import { handledBy } from '../app/subscriptions';
import { DomainError } from '../domain/decider';
import { endpoint } from '../http/endpoint';
import { orderNotificationsRoute } from '../http/routes';
import { services } from '../composition/services';

/**
 * Event Grid subscriber `customerNotifications` (src/app/subscriptions.ts: OrderAccepted, OrderRejected,
 * OrderCancelled): writes a notification
 * record; on Azure a Logic App subscribed to the same events does the sending.
 */
export const customerNotifications = async (event: unknown, context: InvocationContext) => {
  const r = receive(event, handledBy('customerNotifications'));
  if (r.kind === 'ignored') return;
  await consume('customerNotifications', event, r, {
    work: (received) => notifyCustomer(received, services().notifications),
    malformed: (reason) => context.error(`notifications: dropped a malformed event: ${reason}`),
  });
};

export const orderNotifications = endpoint(orderNotificationsRoute, async ({ services, params }) => {
  if ((await services.store.readStream(params.orderId, { toVersion: 1 })).version === 0) {
    throw new DomainError('not-found', 'order does not exist');
  }
  const notifications = await services.notifications.listForOrder(params.orderId);
  return { status: 200, jsonBody: { orderId: params.orderId, notifications } };
});
