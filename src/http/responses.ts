import { HttpResponseInit } from '@azure/functions';
import { CurrentOrder, HandleResult, LoadedOrder } from '../app/orderService';
import { toOrderView } from '../domain/orderView';
import { etagOf } from './etag';

/**
 * The answer carrying an order: its view as the body, its version as `ETag`, its URL as `Location`. The
 * view's `updatedAt` is the business time of the order's last event: the last of the events read or
 * appended, or, for a state read from the head (`OrderService.read`, no events), the time its snapshot keeps.
 */
export function orderResponse(
  status: number,
  orderId: string,
  loaded: LoadedOrder | HandleResult | CurrentOrder,
): HttpResponseInit {
  const updatedAt = 'events' in loaded ? loaded.events.at(-1)?.occurredAt : loaded.updatedAt;
  const view = toOrderView(orderId, loaded.state, loaded.version, updatedAt ?? new Date(0).toISOString());
  return {
    status,
    jsonBody: view,
    headers: { etag: etagOf(loaded.version), location: `/api/orders/${encodeURIComponent(orderId)}` },
  };
}
