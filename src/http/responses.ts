import { HttpResponseInit } from '@azure/functions';
import { HandleResult, LoadedOrder } from '../app/orderService';
import { toOrderView } from '../domain/orderView';
import { etagOf } from './etag';

/** The answer carrying an order: its view as the body, its version as `ETag`, its URL as `Location`. */
export function orderResponse(
  status: number,
  orderId: string,
  loaded: LoadedOrder | HandleResult,
): HttpResponseInit {
  const last = loaded.events[loaded.events.length - 1];
  const view = toOrderView(
    orderId,
    loaded.state,
    loaded.version,
    last?.occurredAt ?? new Date(0).toISOString(),
  );
  return {
    status,
    jsonBody: view,
    headers: { etag: etagOf(loaded.version), location: `/api/orders/${encodeURIComponent(orderId)}` },
  };
}
