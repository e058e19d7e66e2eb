import { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import * as s from './schemas';
import * as acceptance from './acceptanceSchemas';
import { RouteAuth } from './identity';

type Method = 'GET' | 'POST' | 'DELETE';

interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
}

/** One HTTP operation: its Azure Functions route template, request schemas and documented answers. */
export interface RouteSpec<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
> {
  name: string;
  method: Method;
  /** Route template as `app.http` takes it, relative to the `/api` prefix. */
  route: string;
  summary: string;
  params?: P;
  query?: Q;
  body?: B;
  /** Accepts `If-Match` with the order's ETag (its version). */
  ifMatch?: boolean;
  /** Accepts an `Idempotency-Key` header. */
  idempotencyKey?: boolean;
  /** Who may call it (src/http/identity.ts `RouteAuth`); `endpoint()` enforces it before anything else runs. */
  auth: RouteAuth;
  responses: Record<number, ResponseSpec>;
}

export const registry = new OpenAPIRegistry();

/** The security schemes: a development bearer token locally, App Service Authentication's principal on Azure. */
export const securitySchemes = {
  devBearer: registry.registerComponent('securitySchemes', 'devBearer', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description:
      'Local development sign-in (AUTH_MODE=development, never on Azure): a token from `npm run token -- --sub <id> ' +
      '[--role orders.read|orders.approve|orders.admin|orders.import]`, signed with the key of the data folder.',
  }).name,
  appServicePrincipal: registry.registerComponent('securitySchemes', 'appServicePrincipal', {
    type: 'apiKey',
    in: 'header',
    name: 'X-MS-CLIENT-PRINCIPAL',
    description:
      'On Azure (AUTH_MODE=appservice): App Service Authentication with Microsoft Entra ID signs the user in ' +
      '(bearer token or session) and sets this header; app roles are Entra ID app roles. Clients never send it.',
  }).name,
};

/**
 * The path prefix of every API route. host.json sets the Functions route prefix to "" so that the dashboard
 * (src/handlers/dashboard.ts) is served at `/`; each API function's route template carries `api/` itself.
 */
export const apiPrefix = 'api';

/** The Azure Functions route template of an API route (`api/orders/{orderId}`), with the prefix. */
export const functionRoute = (spec: Pick<RouteSpec, 'route'>): string => `${apiPrefix}/${spec.route}`;

/** Every route, in definition order (the first of a route template answers its CORS preflight). */
export const allRoutes: RouteSpec[] = [];

/** The methods served on a route template, by every spec that shares it. */
export const methodsOf = (route: string): Method[] =>
  allRoutes.filter((r) => r.route === route).map((r) => r.method);

/** True for the one spec of its route template that also registers OPTIONS (the CORS preflight). */
export const answersPreflight = (spec: RouteSpec): boolean =>
  allRoutes.find((r) => r.route === spec.route) === spec;

function describeAuth(auth: RouteAuth): string {
  if (auth === 'anonymous') return 'Anonymous.';
  if (auth === 'authenticated') return 'Any signed-in caller.';
  const roles = auth.roles.map((r) => `\`${r}\``).join(' or ');
  if (auth.customer === 'owner')
    return `${roles}, or the customer who owns the order (another customer gets 404).`;
  if (auth.customer === 'self') return `${roles}, or any signed-in customer, on their own orders only.`;
  return `${roles} only.`;
}

const problemResponse = (description: string): ResponseSpec => ({ description, schema: s.ProblemSchema });
const authErrors = {
  401: problemResponse('Not signed in, or the credentials are not valid.'),
  403: problemResponse('Signed in, but not allowed to do this.'),
};
const commonErrors = {
  400: problemResponse('A field is invalid; `errors` names each one.'),
  404: problemResponse('No such order.'),
};
const writeErrors = {
  ...commonErrors,
  409: problemResponse("The order's state forbids the command."),
  412: problemResponse('`If-Match` names a version that is no longer current.'),
  413: problemResponse('The request body is over 1 MB.'),
  422: problemResponse("The command contradicts the order's data (e.g. a second currency)."),
};

function define<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(
  spec: RouteSpec<P, Q, B>,
): RouteSpec<P, Q, B> {
  const headers = [
    ...(spec.ifMatch ? [['If-Match', 'The ETag of the version the change is based on.']] : []),
    ...(spec.idempotencyKey
      ? [['Idempotency-Key', 'Replays the first answer for a repeat of the request.']]
      : []),
  ];
  registry.registerPath({
    method: spec.method.toLowerCase() as 'get' | 'post' | 'delete',
    path: '/' + functionRoute(spec),
    operationId: spec.name,
    summary: spec.summary,
    description: `Who may call it: ${describeAuth(spec.auth)}`,
    security:
      spec.auth === 'anonymous'
        ? []
        : [{ [securitySchemes.devBearer]: [] }, { [securitySchemes.appServicePrincipal]: [] }],
    request: {
      params: spec.params as unknown as z.ZodObject | undefined,
      query: spec.query as unknown as z.ZodObject | undefined,
      headers: headers.length
        ? z.object(
            Object.fromEntries(headers.map(([h, d]) => [h, z.string().optional().meta({ description: d })])),
          )
        : undefined,
      body: spec.body ? { content: { 'application/json': { schema: spec.body } } } : undefined,
    },
    responses: Object.fromEntries(
      Object.entries(spec.auth === 'anonymous' ? spec.responses : { ...spec.responses, ...authErrors }).map(
        ([status, r]) => [
          status,
          {
            description: r.description,
            content: r.schema
              ? {
                  [Number(status) >= 400 ? 'application/problem+json' : 'application/json']: {
                    schema: r.schema,
                  },
                }
              : undefined,
          },
        ],
      ),
    ),
  });
  allRoutes.push(spec as unknown as RouteSpec);
  return spec;
}

const orderAnswer = (description: string): ResponseSpec => ({ description, schema: s.OrderSchema });

export const createOrderRoute = define({
  name: 'createOrder',
  auth: { roles: ['orders.admin'], customer: 'self' },
  method: 'POST',
  route: 'orders',
  summary: 'Create an order (idempotent when the client chooses the orderId)',
  body: s.CreateOrderBody,
  idempotencyKey: true,
  responses: {
    201: orderAnswer('Created; `Location` and `ETag` name it.'),
    200: orderAnswer('The order with this orderId already exists with the same data.'),
    ...writeErrors,
  },
});

export const addItemRoute = define({
  name: 'addOrderItem',
  auth: { roles: ['orders.admin'], customer: 'owner' },
  method: 'POST',
  route: 'orders/{orderId}/items',
  summary: 'Add a product line (quantities add up for a product already on the order)',
  params: s.OrderParams,
  body: s.AddItemBody,
  ifMatch: true,
  idempotencyKey: true,
  responses: { 200: orderAnswer('The order after the change.'), ...writeErrors },
});

export const removeItemRoute = define({
  name: 'removeOrderItem',
  auth: { roles: ['orders.admin'], customer: 'owner' },
  method: 'DELETE',
  route: 'orders/{orderId}/items/{productId}',
  summary: 'Remove a product line (no event when the product is not on the order)',
  params: s.ItemParams,
  ifMatch: true,
  idempotencyKey: true,
  responses: { 200: orderAnswer('The order after the change.'), ...writeErrors },
});

export const submitOrderRoute = define({
  name: 'submitOrder',
  auth: { roles: ['orders.admin'], customer: 'owner' },
  method: 'POST',
  route: 'orders/{orderId}/submit',
  summary: 'Submit the order (records OrderSubmitted); its acceptance follows asynchronously',
  params: s.OrderParams,
  ifMatch: true,
  idempotencyKey: true,
  responses: {
    202: {
      description:
        'Submitted; `Location` is the acceptance status, `acceptance` has the status and approval URLs.',
      schema: acceptance.SubmittedOrderSchema,
    },
    ...writeErrors,
  },
});

export const cancelOrderRoute = define({
  name: 'cancelOrder',
  auth: { roles: ['orders.admin'], customer: 'owner' },
  method: 'POST',
  route: 'orders/{orderId}/cancel',
  summary: 'Cancel the order (allowed until it is shipped)',
  params: s.OrderParams,
  body: s.CancelBody,
  ifMatch: true,
  idempotencyKey: true,
  responses: { 200: orderAnswer('The cancelled order.'), ...writeErrors },
});

export const getOrderRoute = define({
  name: 'getOrder',
  auth: { roles: ['orders.read', 'orders.approve', 'orders.admin'], customer: 'owner' },
  method: 'GET',
  route: 'orders/{orderId}',
  summary: 'Current state of an order, or its state as of a business time',
  params: s.OrderParams,
  query: s.GetOrderQuery,
  responses: { 200: orderAnswer('The order; `ETag` is its version.'), ...commonErrors },
});

export const orderEventsRoute = define({
  name: 'getOrderEvents',
  auth: { roles: ['orders.read', 'orders.approve', 'orders.admin'], customer: 'owner' },
  method: 'GET',
  route: 'orders/{orderId}/events',
  summary: "The order's audit trail, paged: its events with their versions and times",
  params: s.OrderParams,
  query: s.OrderEventsQuery,
  responses: {
    200: {
      description:
        'One page of events in version order (`limit`, default 100); `continuationToken` when more follow.',
      schema: s.AuditTrailSchema,
    },
    ...commonErrors,
  },
});

export const listOrdersRoute = define({
  name: 'listOrders',
  auth: { roles: ['orders.read', 'orders.approve', 'orders.admin'], customer: 'self' },
  method: 'GET',
  route: 'orders',
  summary: 'List orders from the read model, newest first, paged',
  query: s.ListOrdersQuery,
  responses: {
    200: { description: 'One page of orders.', schema: s.OrderListSchema },
    400: commonErrors[400],
  },
});

export const eventSchemaRoute = define({
  name: 'getEventSchema',
  auth: 'authenticated',
  method: 'GET',
  route: 'schemas/events/{eventType}/{schemaVersion}',
  summary: "JSON Schema of an event type's data at a schema version (the CloudEvent `dataschema`)",
  params: s.EventSchemaParams,
  responses: { 200: { description: 'A JSON Schema (draft 2020-12).' }, ...commonErrors },
});

export const stockDemandRoute = define({
  name: 'getStockDemand',
  auth: { roles: ['orders.read', 'orders.admin'] },
  method: 'GET',
  route: 'stock/{productId}',
  summary: 'Demand for a product from ProductAddedToOrder events, against its known stock',
  params: s.ProductParams,
  responses: { 200: { description: 'Demand and stock.', schema: s.StockDemandSchema }, ...commonErrors },
});

export const orderNotificationsRoute = define({
  name: 'getOrderNotifications',
  auth: { roles: ['orders.read', 'orders.approve', 'orders.admin'], customer: 'owner' },
  method: 'GET',
  route: 'orders/{orderId}/notifications',
  summary: 'Customer notifications recorded for an order by the notification consumer',
  params: s.OrderParams,
  responses: {
    200: { description: 'The notifications, oldest first.', schema: s.NotificationListSchema },
    ...commonErrors,
  },
});

export const healthRoute = define({
  name: 'health',
  auth: 'anonymous',
  method: 'GET',
  route: 'health',
  summary: 'Liveness and the event store in use',
  responses: { 200: { description: 'The service is up.', schema: s.HealthSchema } },
});

export const openApiRoute = define({
  name: 'openApi',
  auth: 'anonymous',
  method: 'GET',
  route: 'openapi.json',
  summary: 'This OpenAPI 3.1 document',
  responses: { 200: { description: 'The OpenAPI document.' } },
});

export const approvalRoute = define({
  name: 'approveOrder',
  auth: { roles: ['orders.approve'] },
  method: 'POST',
  route: 'orders/{orderId}/approval',
  summary:
    'Approve or refuse an order whose acceptance awaits an approval (its total is above the threshold)',
  params: s.OrderParams,
  body: acceptance.ApprovalBody,
  idempotencyKey: true,
  responses: {
    202: { description: 'The decision was handed to the acceptance.', schema: acceptance.ApprovalSentSchema },
    400: commonErrors[400],
    404: problemResponse('No such order, or no acceptance of it is waiting for an approval.'),
    409: problemResponse(
      'The order is no longer submitted (cancelled, accepted, rejected); orderStatus names its status.',
    ),
  },
});

export const acceptanceStatusRoute = define({
  name: 'getOrderAcceptance',
  auth: { roles: ['orders.read', 'orders.approve', 'orders.admin'], customer: 'owner' },
  method: 'GET',
  route: 'orders/{orderId}/acceptance',
  summary: "The order's acceptance: runtime status, current step, outcome",
  params: s.OrderParams,
  responses: {
    200: {
      description: 'Decided: Completed (accepted, rejected, cancelled or skipped), Failed or Terminated.',
      schema: acceptance.AcceptanceStatusSchema,
    },
    202: {
      description: 'Pending or running; poll again after `Retry-After` seconds.',
      schema: acceptance.AcceptanceStatusSchema,
    },
    ...commonErrors,
  },
});

export const funnelRoute = define({
  name: 'getFunnel',
  auth: { roles: ['orders.read', 'orders.admin'] },
  method: 'GET',
  route: 'analytics/funnel',
  summary:
    'Funnel over ordered event types: per step count, conversion, drop-off, median and p90 time to convert',
  query: s.FunnelQuery,
  responses: { 200: { description: 'The funnel.', schema: s.FunnelSchema }, 400: commonErrors[400] },
});

export const funnelDropOffsRoute = define({
  name: 'getFunnelDropOffs',
  auth: { roles: ['orders.read', 'orders.admin'] },
  method: 'GET',
  route: 'analytics/funnel/drop-offs',
  summary:
    "Who reached a step of the funnel but not the next: the orders (or customers) behind the next step's drop-off",
  query: s.FunnelDropOffsQuery,
  responses: {
    200: { description: 'The drop-offs, earliest entry first.', schema: s.FunnelDropOffsSchema },
    400: commonErrors[400],
  },
});

export const processMapRoute = define({
  name: 'getProcessMap',
  auth: { roles: ['orders.read', 'orders.admin'] },
  method: 'GET',
  route: 'analytics/process-map',
  summary: 'Directly-follows graph of event types per order, with times per edge and the happy-path share',
  query: s.ProcessMapQuery,
  responses: { 200: { description: 'The process map.', schema: s.ProcessMapSchema }, 400: commonErrors[400] },
});

export const ocelRoute = define({
  name: 'getOcel',
  auth: { roles: ['orders.read', 'orders.admin'] },
  method: 'GET',
  route: 'analytics/ocel',
  summary: 'The event log as an OCEL 2.0 object-centric event log (JSON), for a business-time range',
  query: s.OcelQuery,
  responses: {
    200: { description: 'The OCEL 2.0 JSON log.', schema: s.OcelLogSchema },
    400: commonErrors[400],
  },
});

export const meRoute = define({
  name: 'getMe',
  auth: 'authenticated',
  method: 'GET',
  route: 'me',
  summary: 'Who the caller is: id, name, app roles, and whether they act as a customer',
  responses: { 200: { description: 'The signed-in caller.', schema: s.MeSchema } },
});

export const overviewRoute = define({
  name: 'getOverview',
  auth: { roles: ['orders.read', 'orders.admin'] },
  method: 'GET',
  route: 'overview',
  summary:
    'The order flow now: orders by status, commits and events per minute, change-feed lag per consumer, dead letters',
  query: s.OverviewQuery,
  responses: { 200: { description: 'The overview.', schema: s.OverviewSchema }, 400: commonErrors[400] },
});

export const recentEventsRoute = define({
  name: 'getRecentEvents',
  auth: { roles: ['orders.read', 'orders.admin'] },
  method: 'GET',
  route: 'events/recent',
  summary:
    'The latest committed events, newest first, optionally of some types (among the newest 1,000 commits)',
  query: s.RecentEventsQuery,
  responses: {
    200: { description: 'The events, newest first.', schema: s.RecentEventsSchema },
    400: commonErrors[400],
  },
});

export const importOrdersRoute = define({
  name: 'importOrders',
  auth: { roles: ['orders.import'] },
  method: 'POST',
  route: 'import/orders',
  summary:
    'Load orders with their history and business times (a trusted importer); idempotent, no acceptance started',
  body: s.ImportOrdersBody,
  responses: {
    200: {
      description:
        'Per order: `imported`, `alreadyPresent` (nothing added) or `refused` with the reason; with the anomalies.',
      schema: s.ImportOrdersResultSchema,
    },
    400: commonErrors[400],
    413: writeErrors[413],
  },
});
