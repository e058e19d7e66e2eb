import { currentSchemaVersion, EventType } from '../domain/events';
import { cloudEventType } from './cloudEvents';

/**
 * The Event Grid subscriptions of the system, declared once: which consumer receives which event types.
 * The consumer functions filter with it (src/handlers), Bicep creates the subscriptions from the file
 * generated from it (`npm run infra:generate` → infra/generated/event-subscriptions.json), and a test keeps
 * the two equal.
 * - `function`: an Event Grid-triggered function of this app (destination `AzureFunction`).
 * - `logicApp`: the order-approval Logic App (destination `WebHook`, its request trigger's callback URL).
 */
export const eventSubscriptions = {
  stockCheck: { destination: 'function', eventTypes: ['ProductAddedToOrder'] },
  customerNotifications: {
    destination: 'function',
    eventTypes: ['OrderAccepted', 'OrderRejected', 'OrderCancelled'],
  },
  orderApproval: { destination: 'logicApp', eventTypes: ['OrderSubmitted', 'OrderRejected'] },
} as const satisfies Record<
  string,
  { destination: 'function' | 'logicApp'; eventTypes: readonly EventType[] }
>;

export type SubscriberName = keyof typeof eventSubscriptions;

/** The event types a subscriber handles, as a fresh array (what `receive` in consumers.ts takes). */
export const handledBy = (subscriber: SubscriberName): EventType[] => [
  ...eventSubscriptions[subscriber].eventTypes,
];

/**
 * A subscription's `includedEventTypes` (Event Grid matches the CloudEvent `type` exactly): each handled event
 * type at its current schema version under `typePrefix` (the CLOUDEVENTS_TYPE_PREFIX setting).
 */
export const includedEventTypes = (subscriber: SubscriberName, typePrefix: string): string[] =>
  eventSubscriptions[subscriber].eventTypes.map((t) =>
    cloudEventType(typePrefix, t, currentSchemaVersion[t]),
  );
