import { canonicalAmount } from '../domain/money';
import { endpoint } from '../http/endpoint';
import { orderResponse } from '../http/responses';
import { addItemRoute, removeItemRoute } from '../http/routes';

export const addItem = endpoint(
  addItemRoute,
  async ({ services, params, body, expectedVersion, metadata }) => {
    const line = { ...body, unitPrice: canonicalAmount(body.unitPrice, body.currency) };
    const result = await services.orders.handle(
      params.orderId,
      { type: 'AddProduct', line },
      { expectedVersion, metadata },
    );
    return orderResponse(200, params.orderId, result);
  },
);

export const removeItem = endpoint(
  removeItemRoute,
  async ({ services, params, expectedVersion, metadata }) => {
    const result = await services.orders.handle(
      params.orderId,
      { type: 'RemoveProduct', productId: params.productId },
      { expectedVersion, metadata },
    );
    return orderResponse(200, params.orderId, result);
  },
);
