import { app, InvocationContext } from '@azure/functions';
import { checkStock, receive } from '../app/consumers';
import { getEventing } from '../app/eventing';
import { DomainError } from '../domain/decider';
import { endpoint } from '../http/endpoint';
import { stockDemandRoute } from '../http/routes';

/** Event Grid subscriber (filter: ProductAddedToOrder): stock demand per product, flagged over stock. */
app.eventGrid('stockCheck', {
  handler: async (event: unknown, context: InvocationContext) => {
    const r = receive(event, ['ProductAddedToOrder']);
    if (r.kind === 'malformed') return context.error(`stock check: dropped a malformed event: ${r.reason}`);
    if (r.kind === 'ignored') return;
    const result = await checkStock(r.event, getEventing().stockDemand);
    if (result.note) context.warn(`stock check: ${result.note}`);
  },
});

app.http(stockDemandRoute.name, {
  methods: [stockDemandRoute.method],
  route: stockDemandRoute.route,
  authLevel: 'anonymous',
  handler: endpoint(stockDemandRoute, async ({ params }) => {
    const demand = await getEventing().stockDemand.get(params.productId);
    if (!demand) throw new DomainError('not-found', 'no demand or stock level recorded for this product');
    return { status: 200, jsonBody: demand };
  }),
});
