import { randomUUID } from 'node:crypto';
import { DomainError } from '../domain/decider';
import { endpoint } from '../http/endpoint';
import { orderResponse } from '../http/responses';
import { createOrderRoute, getOrderRoute, listOrdersRoute } from '../http/routes';

export const createOrder = endpoint(createOrderRoute, async ({ services, body, metadata }) => {
  const orderId = body.orderId ?? randomUUID();
  const result = await services.orders.handle(
    orderId,
    { type: 'CreateOrder', customerId: body.customerId, referralCode: body.referralCode },
    { metadata },
  );
  return orderResponse(result.appended.length ? 201 : 200, orderId, result);
});

export const getOrder = endpoint(getOrderRoute, async ({ services, params, query }) => {
  const loaded = await services.orders.load(params.orderId, { asOf: query.asOf });
  if (!loaded.state.exists) {
    throw new DomainError(
      'not-found',
      query.asOf ? `order did not exist at ${query.asOf}` : 'order does not exist',
    );
  }
  return orderResponse(200, params.orderId, loaded);
});

export const listOrders = endpoint(listOrdersRoute, async ({ services, query }) => ({
  status: 200,
  jsonBody: await services.readModel.list(query),
}));
