import { InvocationContext } from '@azure/functions';
import { notifyCustomer, receive } from '../app/consumers';
import { DomainError } from '../domain/decider';
import { endpoint } from '../http/endpoint';
import { orderNotificationsRoute } from '../http/routes';
import { services } from '../composition/services';

/**
 * Event Grid subscriber (filter: OrderAccepted, OrderRejected, OrderCancelled): writes a notification
 * record; on Azure a Logic App subscribed to the same events does the sending.
 */
export const customerNotifications = async (event: unknown, context: InvocationContext) => {
  const r = receive(event, ['OrderAccepted', 'OrderRejected', 'OrderCancelled']);
  if (r.kind === 'malformed') return context.error(`notifications: dropped a malformed event: ${r.reason}`);
  if (r.kind === 'event') await notifyCustomer(r.event, services().notifications);
};

export const orderNotifications = endpoint(orderNotificationsRoute, async ({ services, params }) => {
  if ((await services.store.readStream(params.orderId, { toVersion: 1 })).version === 0) {
    throw new DomainError('not-found', 'order does not exist');
  }
  const notifications = await services.notifications.listForOrder(params.orderId);
  return { status: 200, jsonBody: { orderId: params.orderId, notifications } };
});
