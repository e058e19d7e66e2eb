import { isEventType } from '../../domain/events';
import { upcast } from '../../domain/upcasters';
import { RecordedEvent } from '../../ports/eventStore';
import { JourneyEvent, OrderJourney } from '../../ports/journeyStore';

/** Which of an event's times the funnel and process map read: business time or recorded time. */
export type TimeBasis = 'business' | 'recorded';

/**
 * An order's journey extended by the next events of its stream (pure). `events` must continue the journey:
 * the first has version `previous.version + 1` (1 without a previous journey), and they are in version order.
 * The customer, referral code and customer state come from OrderCreated / OrderCreatedBasedOnAReferral (upcast
 * to the current schema), the currency from the first ProductAddedToOrder; an event of a type this code does
 * not know (a newer writer) is kept by type and times, its data unread.
 * @throws RangeError when `events` do not continue the journey
 */
export function extendJourney(
  previous: OrderJourney | undefined,
  orderId: string,
  events: readonly RecordedEvent[],
): OrderJourney {
  const journey: OrderJourney = previous
    ? { ...previous, events: [...previous.events] }
    : { orderId, customerId: '', version: 0, events: [] };
  for (const e of events) {
    if (e.version !== journey.version + 1) {
      throw new RangeError(
        `order ${orderId}: event version ${e.version} does not follow the journey at ${journey.version}`,
      );
    }
    if (isEventType(e.type)) {
      const event = upcast(e.type, e.schemaVersion, e.data, e.occurredAt);
      if (event.type === 'OrderCreated' || event.type === 'OrderCreatedBasedOnAReferral') {
        journey.customerId = event.data.customerId;
        if (event.data.referralCode) journey.referralCode = event.data.referralCode;
        if (event.type === 'OrderCreated' && event.data.customerState)
          journey.customerState = event.data.customerState;
      }
      if (event.type === 'ProductAddedToOrder' && journey.currency === undefined)
        journey.currency = event.data.currency;
    }
    journey.events.push({
      type: e.type,
      version: e.version,
      occurredAt: e.occurredAt,
      recordedAt: e.recordedAt,
    });
    journey.version = e.version;
  }
  return journey;
}

/** An event of a journey with its time on the chosen basis, in milliseconds since the epoch. */
export interface TimedEvent {
  type: string;
  version: number;
  at: number;
}

/**
 * The journey's events ordered by time on `basis`, ties by stream version: the order in which the funnel looks
 * for steps and the process map draws edges. Imported history can have business times that run backwards
 * against the stream (an order handed to the carrier before its approval); this order follows the times.
 */
export function timeline(journey: OrderJourney, basis: TimeBasis): TimedEvent[] {
  return journey.events
    .map((e: JourneyEvent) => ({
      type: e.type,
      version: e.version,
      at: Date.parse(basis === 'business' ? e.occurredAt : e.recordedAt),
    }))
    .sort((a, b) => a.at - b.at || a.version - b.version);
}
