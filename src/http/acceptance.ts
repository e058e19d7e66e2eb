import { HttpResponseInit } from '@azure/functions';
import { acceptanceInstanceId } from '../acceptance/contract';
import { HandleResult } from '../app/orderService';
import { orderResponse } from './responses';
import { publicBaseUrl, Settings } from '../config/settings';

/** The API's own URLs of an order's acceptance: relative paths, as `Location` answers carry them. */
export const acceptancePath = (orderId: string): string =>
  `/api/orders/${encodeURIComponent(orderId)}/acceptance`;
export const approvalPath = (orderId: string): string =>
  `/api/orders/${encodeURIComponent(orderId)}/approval`;

/**
 * Where to follow an order's acceptance, in the shape of Durable Functions' check-status payload. The URLs
 * are the API's own acceptance and approval routes, not the extension's webhooks: on Azure those carry the
 * extension's system key, and would let any API client terminate or purge any instance. Absolute URLs are
 * built on `baseUrl` (`publicBaseUrl` of the settings: PUBLIC_BASE_URL, else the platform's host name),
 * never on the request's `Host`, which the client chooses.
 */
export function acceptanceLinks(baseUrl: string, orderId: string) {
  return {
    instanceId: acceptanceInstanceId(orderId),
    statusQueryGetUri: new URL(acceptancePath(orderId), baseUrl).toString(),
    sendEventPostUri: new URL(approvalPath(orderId), baseUrl).toString(),
  };
}

/**
 * The answer to submit: 202, the acceptance follows asynchronously. `Location` is the acceptance status,
 * `Content-Location` the order; the body is the order with its `acceptance` links.
 */
export function submittedResponse(
  settings: Settings,
  orderId: string,
  result: HandleResult,
): HttpResponseInit {
  const order = orderResponse(202, orderId, result);
  return {
    status: 202,
    jsonBody: {
      ...(order.jsonBody as object),
      acceptance: acceptanceLinks(publicBaseUrl(settings), orderId),
    },
    headers: {
      ...(order.headers as Record<string, string>),
      location: acceptancePath(orderId),
      'content-location': `/api/orders/${encodeURIComponent(orderId)}`,
      'retry-after': '1',
    },
  };
}
