/**
 * The shapes of the API answers the page reads, as the routes document them (src/http/schemas.ts and the
 * OpenAPI document at /api/openapi.json). Declared here, not imported: the page talks to the server over HTTP
 * only.
 */

export interface Me {
  id: string;
  name?: string;
  roles: string[];
  customer: boolean;
}

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: { field: string; message: string }[];
}

export interface OrderLine {
  productId: string;
  quantity: number;
  unitPrice: string;
  currency: string;
  sellerId?: string;
  lineTotal: string;
}

export interface OrderSummary {
  orderId: string;
  customerId: string;
  status: string;
  currency?: string;
  total: string;
  lineCount: number;
  itemCount: number;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface Order extends OrderSummary {
  referralCode?: string;
  lines: OrderLine[];
  submittedAt?: string;
  acceptedAt?: string;
  rejectedAt?: string;
  cancelledAt?: string;
  shippedAt?: string;
  deliveredAt?: string;
  rejectionReason?: string;
  cancellationReason?: string;
}

export interface OrderList {
  items: OrderSummary[];
  continuationToken?: string;
}

export interface AuditEvent {
  type: string;
  schemaVersion: number;
  version: number;
  occurredAt: string;
  recordedAt: string;
  data: Record<string, unknown>;
  metadata: Record<string, string>;
}

export interface AuditTrail {
  orderId: string;
  version: number;
  events: AuditEvent[];
  /** Present while later events follow: the route is paged (`limit`, `continuationToken`). */
  continuationToken?: string;
}

export interface AcceptanceStatus {
  orderId: string;
  instanceId: string;
  runtimeStatus: string;
  pending: boolean;
  step?: string;
  customStatus?: unknown;
  output?: unknown;
  detail?: string;
  createdTime?: string;
  lastUpdatedTime?: string;
}

export interface Overview {
  at: string;
  ordersByStatus: { status: string; count: number }[];
  throughput: { minutes: number; perMinute: { minute: string; commits: number; events: number }[] };
  headRecordedAt: string | null;
  changeFeed: {
    consumer: string;
    lastRecordedAt: string | null;
    processedAt: string | null;
    lagSeconds: number | null;
  }[];
  deadLetters: { channel: string; count: number }[];
}

export interface EventGridStats {
  subscriptions: {
    name: string;
    pending: number;
    deliveredLastHour: number;
    failedAttemptsLastHour: number;
    deadLettered: number;
  }[];
  pending: number;
  failedAttemptsLastHour: number;
  deadLettered: number;
}

export interface Deliveries {
  items: {
    subscription: string;
    eventId: string;
    type: string;
    subject: string;
    attempt: number;
    outcome: string;
    status?: number;
    error?: string;
    at: string;
  }[];
}

export interface FunnelStep {
  step: number;
  eventType: string;
  count: number;
  conversionFromPrevious: number | null;
  conversionFromFirst: number | null;
  dropOff: number;
  medianSecondsToConvert: number | null;
  p90SecondsToConvert: number | null;
}

export interface Funnel {
  countBy: 'orders' | 'customers';
  time: 'business' | 'recorded';
  steps: FunnelStep[];
  breakdown?: { key: string | null; steps: FunnelStep[] }[];
}

export interface DropOffs {
  step: number;
  eventType: string;
  nextEventType: string | null;
  total: number;
  items: { customerId: string; orderIds: string[] }[];
}

export interface ProcessMap {
  time: 'business' | 'recorded';
  orders: number;
  nodes: { eventType: string; events: number; orders: number }[];
  edges: {
    from: string;
    to: string;
    count: number;
    medianSeconds: number | null;
    p90Seconds: number | null;
  }[];
  start: { eventType: string; orders: number }[];
  end: { eventType: string; orders: number }[];
  happyPath: { steps: string[]; orders: number; share: number | null };
}

export interface RecentEvents {
  items: {
    orderId: string;
    version: number;
    type: string;
    schemaVersion: number;
    occurredAt: string;
    recordedAt: string;
    actor?: string;
    data: Record<string, unknown>;
  }[];
  scannedCommits?: number;
}

/**
 * The catalogue's event types, for the choices of the funnel steps and of the stream's filter (the OpenAPI
 * document types them as strings, so the list is written here; an unknown type still shows wherever the API
 * names it).
 */
export const eventTypes = [
  'OrderCreated',
  'OrderCreatedBasedOnAReferral',
  'ProductAddedToOrder',
  'ProductRemovedFromOrder',
  'OrderSubmitted',
  'StockReserved',
  'StockReservationFailed',
  'StockReleased',
  'OrderAccepted',
  'OrderRejected',
  'OrderCancelled',
  'OrderShipped',
  'OrderDelivered',
] as const;

/** The API's default funnel (FunnelQuery in src/http/schemas.ts): what the page shows before any choice. */
export const defaultFunnelSteps = [
  'OrderCreated',
  'ProductAddedToOrder',
  'OrderSubmitted',
  'OrderAccepted',
  'OrderShipped',
  'OrderDelivered',
];

/** Order statuses in lifecycle order (the OrderStatus enum of the OpenAPI document). */
export const orderStatuses = [
  'draft',
  'submitted',
  'accepted',
  'rejected',
  'cancelled',
  'shipped',
  'delivered',
];

/** The staff roles a development sign-in can hold; none makes a customer. */
export const staffRoles = ['orders.read', 'orders.approve', 'orders.admin'] as const;
