import { InvocationContext } from '@azure/functions';
import { checkStock, receive } from '../app/consumers';
import { DomainError } from '../domain/decider';
import { endpoint } from '../http/endpoint';
import { stockDemandRoute } from '../http/routes';
import { services } from '../composition/services';

/** Event Grid subscriber (filter: ProductAddedToOrder): stock demand per product, flagged over stock. */
export const stockCheck = async (event: unknown, context: InvocationContext) => {
  const r = receive(event, ['ProductAddedToOrder']);
  if (r.kind === 'malformed') return context.error(`stock check: dropped a malformed event: ${r.reason}`);
  if (r.kind === 'ignored') return;
  const result = await checkStock(r.event, services().stockDemand);
  if (result.note) context.warn(`stock check: ${result.note}`);
};

export const stockDemand = endpoint(stockDemandRoute, async ({ services, params }) => {
  const demand = await services.stockDemand.get(params.productId);
  if (!demand) throw new DomainError('not-found', 'no demand or stock level recorded for this product');
  return { status: 200, jsonBody: demand };
});
