import { submittedResponse } from '../http/acceptance';
import { endpoint } from '../http/endpoint';
import { orderResponse } from '../http/responses';
import { cancelOrderRoute, submitOrderRoute } from '../http/routes';

export const submitOrder = endpoint(
  submitOrderRoute,
  async ({ services, params, expectedVersion, metadata }) => {
    const result = await services.orders.handle(
      params.orderId,
      { type: 'SubmitOrder' },
      { expectedVersion, metadata },
    );
    // OrderSubmitted reaches the acceptance starter through the change feed (orderAcceptanceStarter.ts).
    return submittedResponse(services.settings, params.orderId, result);
  },
);

export const cancelOrder = endpoint(
  cancelOrderRoute,
  async ({ services, params, body, expectedVersion, metadata }) => {
    const result = await services.orders.handle(
      params.orderId,
      { type: 'CancelOrder', reason: body.reason },
      { expectedVersion, metadata },
    );
    return orderResponse(200, params.orderId, result);
  },
);
