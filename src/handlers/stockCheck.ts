import { InvocationContext } from '@azure/functions';
import { checkStock, consume, receive } from '../app/consumers';
import { handledBy } from '../app/subscriptions';
import { DomainError } from '../domain/decider';
import { endpoint } from '../http/endpoint';
import { stockDemandRoute } from '../http/routes';
import { services } from '../composition/services';

/** Event Grid subscriber `stockCheck` (src/app/subscriptions.ts: ProductAddedToOrder): stock demand per product, flagged over stock. */
export const stockCheck = async (event: unknown, context: InvocationContext) => {
  const r = receive(event, handledBy('stockCheck'));
  if (r.kind === 'ignored') return;
  await consume('stockCheck', event, r, {
    work: async (received) => {
      const result = await checkStock(received, services().stockDemand);
      if (result.note) context.warn(`stock check: ${result.note}`);
      return result;
    },
    malformed: (reason) => context.error(`stock check: dropped a malformed event: ${reason}`),
  });
};

export const stockDemand = endpoint(stockDemandRoute, async ({ services, params }) => {
  const demand = await services.stockDemand.get(params.productId);
  if (!demand) throw new DomainError('not-found', 'no demand or stock level recorded for this product');
  return { status: 200, jsonBody: demand };
});
