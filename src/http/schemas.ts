import { z } from 'zod';
import { Id } from '../domain/ids';
import { isCurrency } from '../domain/money';
import { orderStatuses } from '../domain/state';
import { eventTypes } from '../domain/events';
import { defaultFunnelSteps } from '../analytics/funnel/funnel';
import { printable } from '../domain/text';
import { decodeEventsToken, maxEventPage } from '../ports/eventStore';

/**
 * Wire schemas of the HTTP API: request validation and the OpenAPI document come from these, so they
 * cannot drift apart. Money is a decimal string with an ISO 4217 currency; ids follow `Id`.
 */
export const IdParam = Id.meta({ example: 'order-1001' });
const DecimalString = z
  .string()
  .regex(/^(0|[1-9]\d{0,15})(\.\d{1,6})?$/, 'must be a non-negative decimal string such as "199.00"')
  .meta({ example: '199.00' });
const CurrencyCode = z
  .string()
  .refine(isCurrency, 'must be an ISO 4217 currency code such as "BRL"')
  .meta({ example: 'BRL' });
// Bounded by the request body (1 MB) and, for what is stored, by Event Grid's 1 MB event limit.
export { printable };

/** A query or path parameter holding a plain decimal integer ("10"; not "1e1", " 10" or "0x0a"). */
const IntegerParam = z
  .string()
  .regex(/^(0|[1-9]\d{0,9})$/, 'must be a whole number such as 50')
  .transform(Number);
const Reason = z
  .string()
  .trim()
  .min(1)
  .refine(printable, 'must not contain control characters or lone surrogates');

export const CreateOrderBody = z
  .strictObject({
    customerId: IdParam.optional().meta({
      description:
        "Whose order it is. A customer's own id is taken from their sign-in (leave it out; another id is refused " +
        'with 403); required for a caller with `orders.admin`, who creates orders on behalf of customers.',
    }),
    referralCode: IdParam.optional(),
    orderId: IdParam.optional(),
  })
  .meta({ id: 'CreateOrderRequest' });

export const AddItemBody = z
  .strictObject({
    productId: IdParam,
    quantity: z.number().int().positive().max(1_000_000),
    unitPrice: DecimalString,
    currency: CurrencyCode,
    sellerId: IdParam.optional(),
  })
  .meta({ id: 'AddItemRequest' });

export const CancelBody = z.strictObject({ reason: Reason }).meta({ id: 'CancelOrderRequest' });

export const OrderStatusSchema = z.enum(orderStatuses).meta({ id: 'OrderStatus' });

export const OrderParams = z.object({ orderId: IdParam });
export const ItemParams = z.object({ orderId: IdParam, productId: IdParam });
export const ProductParams = z.object({ productId: IdParam });
export const EventSchemaParams = z.object({
  eventType: z.string().regex(/^[A-Za-z]{1,64}$/),
  schemaVersion: IntegerParam.pipe(z.number().min(1).max(1000)),
});

export const GetOrderQuery = z.strictObject({
  asOf: z.iso
    .datetime({ offset: true })
    .optional()
    .meta({ description: 'Business time (ISO 8601 with zone): the order as it was then.' }),
});

export const OrderEventsQuery = z.strictObject({
  limit: IntegerParam.pipe(z.number().min(1).max(maxEventPage))
    .default(100)
    .meta({ description: `Events per page, 1-${maxEventPage} (default 100).` }),
  continuationToken: z
    .string()
    .min(1)
    .max(200)
    .transform((token, ctx) => {
      const after = decodeEventsToken(token);
      if (after === undefined) {
        ctx.addIssue({ code: 'custom', message: 'is not a token this service issued' });
        return z.NEVER;
      }
      return after;
    })
    .optional()
    .meta({ description: "The previous page's `continuationToken`: the page after it." }),
});

export const ListOrdersQuery = z.strictObject({
  status: OrderStatusSchema.optional(),
  customerId: IdParam.optional(),
  limit: IntegerParam.pipe(z.number().min(1).max(1000)).default(50),
  continuationToken: z.string().min(1).max(2000).optional(),
});

const OrderLine = z.object({
  productId: z.string(),
  quantity: z.number().int(),
  unitPrice: z.string(),
  currency: z.string(),
  sellerId: z.string().optional(),
  lineTotal: z.string(),
});

export const OrderSummarySchema = z
  .object({
    orderId: z.string(),
    customerId: z.string(),
    status: OrderStatusSchema,
    currency: z.string().optional(),
    total: z.string(),
    lineCount: z.number().int(),
    itemCount: z.number().int(),
    version: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'OrderSummary' });

export const OrderSchema = OrderSummarySchema.extend({
  referralCode: z.string().optional(),
  lines: z.array(OrderLine),
  submittedAt: z.string().optional(),
  acceptedAt: z.string().optional(),
  rejectedAt: z.string().optional(),
  cancelledAt: z.string().optional(),
  shippedAt: z.string().optional(),
  deliveredAt: z.string().optional(),
  rejectionReason: z.string().optional(),
  cancellationReason: z.string().optional(),
}).meta({ id: 'Order' });

export const OrderListSchema = z
  .object({ items: z.array(OrderSummarySchema), continuationToken: z.string().optional() })
  .meta({ id: 'OrderList' });

export const AuditEventSchema = z
  .object({
    type: z.string(),
    schemaVersion: z.number().int(),
    version: z.number().int(),
    occurredAt: z.string(),
    recordedAt: z.string(),
    data: z.record(z.string(), z.unknown()),
    metadata: z.record(z.string(), z.string()),
  })
  .meta({ id: 'AuditEvent' });

export const AuditTrailSchema = z
  .object({
    orderId: z.string(),
    version: z.number().int().meta({ description: "The order's version (its number of events)." }),
    events: z
      .array(AuditEventSchema)
      .meta({ description: 'This page: the events after the token, in version order.' }),
    continuationToken: z
      .string()
      .optional()
      .meta({ description: 'Present when later events follow: send it back for the next page.' }),
  })
  .meta({ id: 'AuditTrail' });

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'Problem' });

export const HealthSchema = z
  .object({ status: z.literal('ok'), eventStore: z.string() })
  .meta({ id: 'Health' });

export const StockDemandSchema = z
  .object({
    productId: z.string(),
    demanded: z.number().int(),
    available: z.number().int().optional(),
    overDemand: z.boolean(),
  })
  .meta({ id: 'StockDemand' });

export const NotificationListSchema = z
  .object({
    orderId: z.string(),
    notifications: z.array(
      z.object({
        eventId: z.string(),
        orderId: z.string(),
        kind: z.enum(['order-accepted', 'order-rejected', 'order-cancelled']),
        message: z.string(),
        occurredAt: z.string(),
        recordedAt: z.string(),
      }),
    ),
  })
  .meta({ id: 'NotificationList' });

// Analytics (issue 12, points 4 and 5): docs/analytics.md.

const Instant = z.iso.datetime({ offset: true });
const TimeBasisParam = z.enum(['business', 'recorded']).default('business').meta({
  description: 'Which time of each event: business time (`occurredAt`) or recorded time (`recordedAt`).',
});

/** `from` before `to` when both are given; the error names `to`. */
const orderedRange = (q: { from?: string; to?: string }, ctx: z.RefinementCtx) => {
  if (q.from !== undefined && q.to !== undefined && Date.parse(q.from) >= Date.parse(q.to))
    ctx.addIssue({ code: 'custom', path: ['to'], message: 'must be after from' });
};

const rangeFields = {
  from: Instant.optional().meta({ description: 'ISO 8601 with zone; at or after (inclusive).' }),
  to: Instant.optional().meta({ description: 'ISO 8601 with zone; before (exclusive).' }),
};

/** Seconds in a window unit. */
const windowUnits = new Map([
  ['s', 1],
  ['m', 60],
  ['h', 3600],
  ['d', 86400],
]);

/** A comma-separated list of 1 to `max` event types of the catalogue, as a query parameter (at most 2,000 characters). */
const eventTypeList = (what: string, max: number) =>
  z
    .string()
    .max(2000)
    .transform((text) => text.split(','))
    .pipe(
      z
        .array(
          z.enum(eventTypes, { message: `each ${what} must be an event type: ${eventTypes.join(', ')}` }),
        )
        .min(1)
        .max(max),
    );

const funnelFields = {
  steps: eventTypeList('step', 20)
    .optional()
    .meta({
      description:
        'Event types in order, comma-separated (1-20). Default: ' +
        'OrderCreated,ProductAddedToOrder,OrderSubmitted,OrderAccepted,OrderShipped,OrderDelivered.',
    }),
  ...rangeFields,
  window: z
    .string()
    .regex(/^[1-9]\d{0,5}[smhd]$/, 'must be a whole number of s, m, h or d, such as 30d')
    .transform((w) => Number(w.slice(0, -1)) * windowUnits.get(w.slice(-1))!)
    .optional()
    .meta({ description: 'Conversion window from the first step, such as `30d`, `12h`; default none.' }),
  countBy: z.enum(['orders', 'customers']).default('orders'),
  breakdown: z.enum(['referralCode', 'customerState', 'currency']).optional(),
  time: TimeBasisParam,
};

export const FunnelQuery = z.strictObject(funnelFields).superRefine(orderedRange);

export const FunnelDropOffsQuery = z
  .strictObject({
    ...funnelFields,
    step: IntegerParam.pipe(z.number().min(1).max(20)).meta({
      description: 'The 1-based step whose entrants did not reach the next one (must be one of `steps`).',
    }),
    limit: IntegerParam.pipe(z.number().min(0).max(1000)).default(100),
  })
  .superRefine(orderedRange)
  .superRefine((q, ctx) => {
    const steps = q.steps?.length ?? defaultFunnelSteps.length;
    if (q.step > steps) ctx.addIssue({ code: 'custom', path: ['step'], message: `must be at most ${steps}` });
  });

export const FunnelDropOffsSchema = z
  .object({
    step: z.number().int(),
    eventType: z.string(),
    nextEventType: z.string().nullable(),
    total: z.number().int(),
    items: z.array(z.object({ customerId: z.string(), orderIds: z.array(z.string()) })),
  })
  .meta({ id: 'FunnelDropOffs' });

export const MeSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    roles: z.array(z.string()),
    customer: z.boolean().meta({
      description:
        'True when the caller reads orders as a customer, their own only (no orders.read, orders.approve or orders.admin, and an id that can be a customer id).',
    }),
  })
  .meta({ id: 'Me' });

export const OverviewQuery = z.strictObject({
  minutes: IntegerParam.pipe(z.number().min(1).max(180))
    .default(15)
    .meta({ description: 'How many whole UTC minutes of throughput, up to now (1-180).' }),
});

export const OverviewSchema = z
  .object({
    at: z.string(),
    ordersByStatus: z.array(z.object({ status: z.string(), count: z.number().int() })),
    throughput: z.object({
      minutes: z.number().int(),
      perMinute: z.array(
        z.object({ minute: z.string(), commits: z.number().int(), events: z.number().int() }),
      ),
    }),
    headRecordedAt: z.string().nullable(),
    changeFeed: z.array(
      z.object({
        consumer: z.string(),
        lastRecordedAt: z.string().nullable(),
        processedAt: z.string().nullable(),
        lagSeconds: z.number().nullable(),
      }),
    ),
    deadLetters: z.array(z.object({ channel: z.string(), count: z.number().int() })),
  })
  .meta({ id: 'Overview' });

export const RecentEventsQuery = z.strictObject({
  limit: IntegerParam.pipe(z.number().min(1).max(200)).default(50),
  types: eventTypeList('type', 50)
    .optional()
    .meta({ description: 'Event types to keep, comma-separated; default every type.' }),
});

export const RecentEventsSchema = z
  .object({
    items: z.array(
      z.object({
        orderId: z.string(),
        version: z.number().int(),
        type: z.string(),
        schemaVersion: z.number().int(),
        occurredAt: z.string(),
        recordedAt: z.string(),
        actor: z.string().optional(),
        data: z.unknown(),
      }),
    ),
    scannedCommits: z.number().int().meta({ description: 'How many of the newest commits were looked at.' }),
  })
  .meta({ id: 'RecentEvents' });

export const ProcessMapQuery = z
  .strictObject({ ...rangeFields, time: TimeBasisParam })
  .superRefine(orderedRange);

export const OcelQuery = z
  .strictObject({
    ...rangeFields,
    format: z.enum(['json']).default('json').meta({
      description: 'OCEL 2.0 JSON; the SQLite format is written by `npm run export -- ocel --format sqlite`.',
    }),
  })
  .superRefine(orderedRange);

const FunnelStepSchema = z.object({
  step: z.number().int(),
  eventType: z.string(),
  count: z.number().int(),
  conversionFromPrevious: z.number().nullable(),
  conversionFromFirst: z.number().nullable(),
  dropOff: z.number().int(),
  medianSecondsToConvert: z.number().nullable(),
  p90SecondsToConvert: z.number().nullable(),
});

export const FunnelSchema = z
  .object({
    countBy: z.enum(['orders', 'customers']),
    time: z.enum(['business', 'recorded']),
    steps: z.array(FunnelStepSchema),
    breakdown: z.array(z.object({ key: z.string().nullable(), steps: z.array(FunnelStepSchema) })).optional(),
  })
  .meta({ id: 'Funnel' });

export const ProcessMapSchema = z
  .object({
    time: z.enum(['business', 'recorded']),
    orders: z.number().int(),
    nodes: z.array(z.object({ eventType: z.string(), events: z.number().int(), orders: z.number().int() })),
    edges: z.array(
      z.object({
        from: z.string(),
        to: z.string(),
        count: z.number().int(),
        medianSeconds: z.number().nullable(),
        p90Seconds: z.number().nullable(),
      }),
    ),
    start: z.array(z.object({ eventType: z.string(), orders: z.number().int() })),
    end: z.array(z.object({ eventType: z.string(), orders: z.number().int() })),
    happyPath: z.object({
      steps: z.array(z.string()),
      orders: z.number().int(),
      share: z.number().nullable(),
    }),
  })
  .meta({ id: 'ProcessMap' });

const OcelTypeSchema = z.object({
  name: z.string(),
  attributes: z.array(z.object({ name: z.string(), type: z.string() })),
});
const OcelRelationshipSchema = z.object({ objectId: z.string(), qualifier: z.string() });

export const OcelLogSchema = z
  .object({
    eventTypes: z.array(OcelTypeSchema),
    objectTypes: z.array(OcelTypeSchema),
    events: z.array(
      z.object({
        id: z.string(),
        type: z.string(),
        time: z.string(),
        attributes: z.array(z.object({ name: z.string(), value: z.string() })),
        relationships: z.array(OcelRelationshipSchema),
      }),
    ),
    objects: z.array(
      z.object({
        id: z.string(),
        type: z.string(),
        attributes: z.array(z.object({ name: z.string(), value: z.string(), time: z.string() })),
        relationships: z.array(OcelRelationshipSchema),
      }),
    ),
  })
  .meta({
    id: 'OcelLog',
    description: 'An OCEL 2.0 object-centric event log (https://www.ocel-standard.org/).',
  });

// History over HTTP for a trusted importer (issue 12, point 7): src/handlers/orderImport.ts.

/** Most orders in one bulk import request (and the body stays under 1 MB). */
export const maxImportBatch = 100;

const BusinessTime = z.iso
  .datetime({ offset: true })
  .transform((t) => new Date(t).toISOString())
  .meta({
    description: 'Business time, ISO 8601 with zone; stored in UTC.',
    example: '2017-10-02T13:56:33Z',
  });

const ImportedLine = z.strictObject({
  productId: IdParam,
  quantity: z.number().int().positive().max(1_000_000),
  unitPrice: DecimalString,
  currency: CurrencyCode,
  sellerId: IdParam.optional(),
});

const ImportedOrder = z
  .strictObject({
    orderId: IdParam,
    customerId: IdParam,
    customerState: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,16}$/, 'must be 1-16 letters, digits or "-" (a region code such as "SP")')
      .optional(),
    referralCode: IdParam.optional(),
    createdAt: BusinessTime,
    lines: z.array(ImportedLine).max(1000).default([]).meta({ description: 'Added at `createdAt`.' }),
    submittedAt: BusinessTime.optional(),
    acceptedAt: BusinessTime.optional(),
    rejectedAt: BusinessTime.optional(),
    rejectionReason: Reason.pipe(z.string().max(1000)).optional(),
    shippedAt: BusinessTime.optional(),
    deliveredAt: BusinessTime.optional(),
    cancelledAt: BusinessTime.optional(),
    cancellationReason: Reason.pipe(z.string().max(1000)).optional(),
  })
  .superRefine((o, ctx) => {
    const need = (field: keyof typeof o, when: boolean, message: string) => {
      if (when && o[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message });
    };
    for (const later of ['acceptedAt', 'rejectedAt', 'shippedAt', 'deliveredAt', 'cancelledAt'] as const)
      need(later, o.submittedAt === undefined, 'needs submittedAt: only a submitted order goes further');
    need('deliveredAt', o.shippedAt === undefined, 'needs shippedAt: only a shipped order is delivered');
    for (const other of ['acceptedAt', 'shippedAt', 'deliveredAt', 'cancelledAt'] as const)
      need(other, o.rejectedAt !== undefined, 'a rejected order goes no further');
    need('rejectionReason', o.rejectedAt === undefined, 'only with rejectedAt');
    need('cancellationReason', o.cancelledAt === undefined, 'only with cancelledAt');
  })
  .meta({
    id: 'ImportedOrder',
    description:
      'One order with its history: created (with its lines) at `createdAt`, then each step that happened at ' +
      'its business time. Times may be out of order (reported as anomalies, as the file imports do).',
  });

export const ImportOrdersBody = z
  .strictObject({
    orders: z
      .array(ImportedOrder)
      .min(1)
      .max(maxImportBatch)
      .superRefine((orders, ctx) => {
        const seen = new Set<string>();
        orders.forEach((o, i) => {
          if (seen.has(o.orderId))
            ctx.addIssue({ code: 'custom', path: [i, 'orderId'], message: 'appears twice in the batch' });
          seen.add(o.orderId);
        });
      }),
  })
  .meta({ id: 'ImportOrdersRequest' });

export const ImportOrdersResultSchema = z
  .object({
    importer: z.string().meta({ description: 'The actor recorded on every imported event: `import:<id>`.' }),
    imported: z.number().int(),
    alreadyPresent: z.number().int(),
    refused: z.number().int(),
    eventsAppended: z.number().int(),
    orders: z.array(
      z.object({
        orderId: z.string(),
        outcome: z.enum(['imported', 'alreadyPresent', 'refused']),
        eventsAppended: z.number().int(),
        reason: z.string().optional(),
        anomalies: z.array(z.string()),
        refusedCommands: z.array(z.string()).optional(),
      }),
    ),
  })
  .meta({ id: 'ImportOrdersResult' });
