import { HttpRequest, HttpResponseInit } from '@azure/functions';
import { acceptanceInstanceId } from '../acceptance/contract';
import { HandleResult } from '../app/orderService';
import { orderResponse } from './responses';

/** The API's own URLs of an order's acceptance: relative paths, as `Location` answers carry them. */
export const acceptancePath = (orderId: string): string =>
  `/api/orders/${encodeURIComponent(orderId)}/acceptance`;
export const approvalPath = (orderId: string): string =>
  `/api/orders/${encodeURIComponent(orderId)}/approval`;

/**
 * Where to follow an order's acceptance, in the shape of Durable Functions' check-status payload. The URLs
 * are the API's own acceptance and approval routes, not the extension's webhooks: on Azure those carry the
 * extension's system key, and would let any API client terminate or purge any instance.
 */
export function acceptanceLinks(request: HttpRequest, orderId: string) {
  return {
    instanceId: acceptanceInstanceId(orderId),
    statusQueryGetUri: new URL(acceptancePath(orderId), request.url).toString(),
    sendEventPostUri: new URL(approvalPath(orderId), request.url).toString(),
  };
}

/**
 * The answer to submit: 202, the acceptance follows asynchronously. `Location` is the acceptance status,
 * `Content-Location` the order; the body is the order with its `acceptance` links.
 */
export function submittedResponse(
  request: HttpRequest,
  orderId: string,
  result: HandleResult,
): HttpResponseInit {
  const order = orderResponse(202, orderId, result);
  return {
    status: 202,
    jsonBody: { ...(order.jsonBody as object), acceptance: acceptanceLinks(request, orderId) },
    headers: {
      ...(order.headers as Record<string, string>),
      location: acceptancePath(orderId),
      'content-location': `/api/orders/${encodeURIComponent(orderId)}`,
      'retry-after': '1',
    },
  };
}
