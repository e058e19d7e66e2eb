import { randomUUID } from 'node:crypto';
import { DomainError } from '../domain/decider';
import { endpoint } from '../http/endpoint';
import { orderResponse } from '../http/responses';
import { problem, validationProblem } from '../shared/problem';
import { createOrderRoute, getOrderRoute, listOrdersRoute } from '../http/routes';

/**
 * A customer creates orders for themselves: the customerId is their sign-in's id, and a body naming another
 * customer is refused (403) rather than silently changed. `orders.admin` creates for the customer the body names.
 */
export const createOrder = endpoint(createOrderRoute, async ({ services, body, metadata, access }) => {
  let customerId: string;
  if (access.kind === 'customer') {
    if (body.customerId !== undefined && body.customerId !== access.customerId) {
      return problem(403, 'forbidden', 'a customer creates orders only for themselves', {
        errors: [{ field: 'body.customerId', message: 'must be your own id, or left out' }],
      });
    }
    customerId = access.customerId;
  } else if (body.customerId === undefined) {
    return validationProblem([
      { field: 'body.customerId', message: 'required when creating on behalf of a customer' },
    ]);
  } else {
    customerId = body.customerId;
  }
  const orderId = body.orderId ?? randomUUID();
  // An orderId chosen by a customer that is already another customer's order must not tell them so.
  if (access.kind === 'customer' && body.orderId !== undefined) {
    const { state } = await services.orders.load(orderId);
    if (state.exists && state.customerId !== customerId) {
      throw new DomainError('conflict', 'this orderId cannot be used; choose another or leave it out');
    }
  }
  const result = await services.orders.handle(
    orderId,
    { type: 'CreateOrder', customerId, referralCode: body.referralCode },
    { metadata },
  );
  return orderResponse(result.appended.length ? 201 : 200, orderId, result);
});

/**
 * The order's current state is read from its head (the snapshot of ADR-0015: one read, whatever the length of
 * its history); `asOf` folds its events up to that time.
 */
export const getOrder = endpoint(getOrderRoute, async ({ services, params, query }) => {
  const loaded =
    query.asOf !== undefined
      ? await services.orders.load(params.orderId, { asOf: query.asOf })
      : await services.orders.read(params.orderId);
  if (!loaded.state.exists) {
    throw new DomainError(
      'not-found',
      query.asOf ? `order did not exist at ${query.asOf}` : 'order does not exist',
    );
  }
  return orderResponse(200, params.orderId, loaded);
});

/** A customer lists only their own orders: the customerId filter is forced to theirs, whatever the query says. */
export const listOrders = endpoint(listOrdersRoute, async ({ services, query, access }) => ({
  status: 200,
  jsonBody: await services.readModel.list(
    access.kind === 'customer' ? { ...query, customerId: access.customerId } : query,
  ),
}));
