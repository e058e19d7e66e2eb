import { z } from 'zod';
import { Id } from '../domain/ids';
import { isCurrency } from '../domain/money';
import { orderStatuses } from '../domain/state';
import { printable } from '../domain/text';

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
  .object({ orderId: z.string(), version: z.number().int(), events: z.array(AuditEventSchema) })
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
