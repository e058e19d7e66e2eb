import { evolve, initialState } from '../../domain/decider';
import { EventType, isEventType, OrderEvent } from '../../domain/events';
import { OrderState } from '../../domain/state';
import { upcast } from '../../domain/upcasters';
import { RecordedEvent } from '../../ports/eventStore';
import {
  OcelAttributeType,
  OcelEvent,
  OcelLog,
  OcelObject,
  OcelRelationship,
  OcelType,
} from '../../ports/ocel';

/**
 * The event log as an OCEL 2.0 object-centric event log (pure). The mapping (docs/analytics.md, "Process
 * mining: OCEL 2.0"; docs/adr/0012-process-mining-speaks-ocel-2.md):
 *
 * - Events: one per stored event, type = the catalogue's event type, time = business time (`occurredAt`),
 *   id `event:<orderId>:<version>`; attributes: the event's scalar data fields, `recordedAt` (time) and `actor`.
 * - Objects: `order`, `customer`, `product`, `seller` and `referral`, id `<type>:<id>` (so an order and a product
 *   that share an id stay two objects); only objects some event of the log names.
 * - Event-to-object relationships, qualified: every event → its order (`order`); OrderCreated → `customer` and
 *   `referral code`; line events → `added product` / `removed product` and `seller`; stock events →
 *   `reserved product`, `product not reserved`, `released product`.
 * - Object-to-object: order → customer `placed by`, → referral `referred by`, → product `contains` (a product
 *   ever added in the log), → seller `sold by`.
 * - Object attributes: the order's `status` (time-varying: a value at each event of the log that changes it,
 *   and at the order's first event in the log), its `currency` (at its first line), the customer's `state`.
 * - Values are strings (as the official JSON schema requires); the declared type says how to read them.
 */

/** The object types, in the order the log declares them. */
export const ocelObjectTypes = ['order', 'customer', 'product', 'seller', 'referral'] as const;
type ObjectTypeName = (typeof ocelObjectTypes)[number];

/** Scalar data fields that become event attributes, per event type (ids become relationships instead). */
const dataAttributes: { [T in EventType]: readonly (readonly [string, OcelAttributeType])[] } = {
  OrderCreated: [],
  OrderCreatedBasedOnAReferral: [],
  ProductAddedToOrder: [
    ['quantity', 'integer'],
    ['unitPrice', 'float'],
    ['currency', 'string'],
  ],
  ProductRemovedFromOrder: [],
  OrderSubmitted: [
    ['total', 'float'],
    ['currency', 'string'],
    ['lineCount', 'integer'],
  ],
  StockReserved: [
    ['quantity', 'integer'],
    ['reservationId', 'string'],
  ],
  StockReservationFailed: [
    ['quantity', 'integer'],
    ['reason', 'string'],
  ],
  StockReleased: [
    ['quantity', 'integer'],
    ['reservationId', 'string'],
  ],
  OrderAccepted: [['approvedBy', 'string']],
  OrderRejected: [['reason', 'string']],
  OrderCancelled: [['reason', 'string']],
  OrderShipped: [],
  OrderDelivered: [],
};
const commonAttributes: readonly (readonly [string, OcelAttributeType])[] = [
  ['recordedAt', 'time'],
  ['actor', 'string'],
];
const objectAttributes: Record<ObjectTypeName, OcelType['attributes']> = {
  order: [
    { name: 'status', type: 'string' },
    { name: 'currency', type: 'string' },
  ],
  customer: [{ name: 'state', type: 'string' }],
  product: [],
  seller: [],
  referral: [],
};
/** The qualifier of an event's relationship to the product it names. */
const productQualifier: Partial<Record<EventType, string>> = {
  ProductAddedToOrder: 'added product',
  ProductRemovedFromOrder: 'removed product',
  StockReserved: 'reserved product',
  StockReservationFailed: 'product not reserved',
  StockReleased: 'released product',
};

export interface OcelOptions {
  /** Events that occurred at or after this time (ISO 8601); none = from the beginning. */
  from?: string;
  /** Events that occurred before this time (exclusive, ISO 8601); none = to the end. */
  to?: string;
}

/** The object id of an id of a type: unique across types. */
export const objectId = (type: ObjectTypeName, id: string): string => `${type}:${id}`;
/** The event id of an order's event: unique, as an order's versions are. */
export const eventId = (orderId: string, version: number): string => `event:${orderId}:${version}`;

class ObjectTable {
  readonly objects = new Map<string, OcelObject>();
  private readonly o2o = new Map<string, Set<string>>();

  touch(type: ObjectTypeName, id: string): string {
    const oid = objectId(type, id);
    if (!this.objects.has(oid)) this.objects.set(oid, { id: oid, type, attributes: [], relationships: [] });
    return oid;
  }

  relate(source: string, target: string, qualifier: string): void {
    const key = JSON.stringify([target, qualifier]);
    let seen = this.o2o.get(source);
    if (!seen) this.o2o.set(source, (seen = new Set()));
    if (seen.has(key)) return;
    seen.add(key);
    this.objects.get(source)!.relationships.push({ objectId: target, qualifier });
  }

  /** Records `value` for `name` at `time` unless it is already the object's latest value of that name. */
  set(oid: string, name: string, value: string, time: string): void {
    const attributes = this.objects.get(oid)!.attributes;
    for (let i = attributes.length - 1; i >= 0; i--) {
      if (attributes[i].name === name) {
        if (attributes[i].value === value) return;
        break;
      }
    }
    attributes.push({ name, value, time });
  }
}

/**
 * Builds the OCEL 2.0 log of `events` (pure). `events` holds whole streams, each order's events in version
 * order (as the change feed or `EventStore.readFeed` gives them); orders may interleave. The window selects
 * events by business time; the order's status is folded over its whole stream, so a value inside the window is
 * right even when earlier events are outside it. Events of a type this code does not know (a newer writer)
 * are kept, related to their order only.
 * @throws RangeError for a `from`/`to` that is not a date
 */
export function buildOcelLog(events: Iterable<RecordedEvent>, options: OcelOptions = {}): OcelLog {
  const from = options.from === undefined ? -Infinity : Date.parse(options.from);
  const to = options.to === undefined ? Infinity : Date.parse(options.to);
  if (Number.isNaN(from) || Number.isNaN(to)) throw new RangeError('from and to must be ISO 8601 times');
  const objects = new ObjectTable();
  const states = new Map<string, { state: OrderState; seen: boolean }>();
  const out: (OcelEvent & { order: string; version: number })[] = [];
  const usedEventTypes = new Set<string>();

  for (const recorded of events) {
    const fold = states.get(recorded.orderId) ?? { state: initialState(), seen: false };
    states.set(recorded.orderId, fold);
    const known = isEventType(recorded.type);
    const event: OrderEvent | undefined = known
      ? upcast(recorded.type, recorded.schemaVersion, recorded.data, recorded.occurredAt)
      : undefined;
    const before = fold.state.status;
    if (event) fold.state = evolve(fold.state, event);
    const at = Date.parse(recorded.occurredAt);
    if (at < from || at >= to) continue;

    usedEventTypes.add(recorded.type);
    const time = new Date(at).toISOString();
    const order = objects.touch('order', recorded.orderId);
    const relationships: OcelRelationship[] = [{ objectId: order, qualifier: 'order' }];
    const attributes: OcelEvent['attributes'] = [];
    if (event) {
      const data = event.data as Record<string, unknown>;
      for (const [name] of dataAttributes[event.type]) {
        if (data[name] !== undefined) attributes.push({ name, value: String(data[name]) });
      }
      relateNamedObjects(event, order, time, relationships, objects);
    }
    attributes.push({ name: 'recordedAt', value: new Date(Date.parse(recorded.recordedAt)).toISOString() });
    if (recorded.metadata?.actor) attributes.push({ name: 'actor', value: recorded.metadata.actor });

    if (!fold.seen || fold.state.status !== before) objects.set(order, 'status', fold.state.status, time);
    fold.seen = true;
    out.push({
      id: eventId(recorded.orderId, recorded.version),
      type: recorded.type,
      time,
      attributes,
      relationships,
      order: recorded.orderId,
      version: recorded.version,
    });
  }

  out.sort((a, b) =>
    a.time < b.time
      ? -1
      : a.time > b.time
        ? 1
        : a.order < b.order
          ? -1
          : a.order > b.order
            ? 1
            : a.version - b.version,
  );
  const eventTypes: OcelType[] = [...usedEventTypes].sort().map((name) => ({
    name,
    attributes: [...(isEventType(name) ? dataAttributes[name] : []), ...commonAttributes].map(
      ([attribute, type]) => ({ name: attribute, type }),
    ),
  }));
  const usedObjectTypes = new Set([...objects.objects.values()].map((o) => o.type));
  const objectTypes: OcelType[] = ocelObjectTypes
    .filter((t) => usedObjectTypes.has(t))
    .map((name) => ({ name, attributes: objectAttributes[name] }));
  return {
    eventTypes,
    objectTypes,
    events: out.map(({ order: _order, version: _version, ...e }) => e),
    objects: [...objects.objects.values()],
  };
}

/** The objects an event names besides its order, with their qualifiers, object relations and attributes. */
function relateNamedObjects(
  event: OrderEvent,
  order: string,
  time: string,
  relationships: OcelRelationship[],
  objects: ObjectTable,
): void {
  const relate = (type: ObjectTypeName, id: string, qualifier: string, o2o?: string) => {
    const oid = objects.touch(type, id);
    if (!relationships.some((r) => r.objectId === oid && r.qualifier === qualifier))
      relationships.push({ objectId: oid, qualifier });
    if (o2o) objects.relate(order, oid, o2o);
    return oid;
  };
  switch (event.type) {
    case 'OrderCreated':
    case 'OrderCreatedBasedOnAReferral': {
      const customer = relate('customer', event.data.customerId, 'customer', 'placed by');
      if (event.data.referralCode)
        relate('referral', event.data.referralCode, 'referral code', 'referred by');
      if (event.type === 'OrderCreated' && event.data.customerState)
        objects.set(customer, 'state', event.data.customerState, time);
      return;
    }
    case 'ProductAddedToOrder':
      relate('product', event.data.productId, productQualifier[event.type]!, 'contains');
      if (event.data.sellerId) relate('seller', event.data.sellerId, 'seller', 'sold by');
      objects.set(order, 'currency', event.data.currency, time);
      return;
    case 'ProductRemovedFromOrder':
    case 'StockReserved':
    case 'StockReservationFailed':
    case 'StockReleased':
      relate('product', event.data.productId, productQualifier[event.type]!);
      return;
    default:
      return;
  }
}

/** What a log holds, counted as the SQLite format counts it (src/ports/ocel.ts `OcelCounts`). */
export function countOcel(log: OcelLog) {
  return {
    events: log.events.length,
    objects: log.objects.length,
    eventObject: log.events.reduce((n, e) => n + e.relationships.length, 0),
    objectObject: log.objects.reduce((n, o) => n + o.relationships.length, 0),
    objectAttributeChanges: log.objects.reduce((n, o) => n + o.attributes.length, 0),
    eventTypes: log.eventTypes.length,
    objectTypes: log.objectTypes.length,
  };
}
