import { currentSchemaVersion, EventType, isEventType, OrderEvent } from './events';

/**
 * Upcasters turn a stored event of an older schema version into the current one, on read.
 * Keyed by `${type}@${fromVersion}`; each step moves one version up, so chains compose.
 */
type Upcaster = (data: Record<string, unknown>) => Record<string, unknown>;

// A Map: the key is built from a stored event's type, which a writer other than this code may have chosen.
const upcasters: ReadonlyMap<string, Upcaster> = new Map([
  // v1 had no referral; v2 adds the optional `referralCode`, absent for every v1 order.
  ['OrderCreated@1', (data: Record<string, unknown>) => ({ ...data })],
]);

export class UnknownEventError extends Error {}

/**
 * Reads a stored event record into the current domain event.
 * @throws UnknownEventError for a type or schema version this code does not know (newer writer).
 */
export function upcast(type: string, schemaVersion: number, data: unknown, occurredAt: string): OrderEvent {
  if (!isEventType(type)) throw new UnknownEventError(`unknown event type ${type}`);
  const target = currentSchemaVersion[type as EventType];
  if (schemaVersion > target) {
    throw new UnknownEventError(`${type} schema version ${schemaVersion} is newer than ${target}`);
  }
  let current = data as Record<string, unknown>;
  for (let v = schemaVersion; v < target; v++) {
    const step = upcasters.get(`${type}@${v}`);
    if (!step) throw new UnknownEventError(`no upcaster for ${type} v${v}`);
    current = step(current);
  }
  return { type, data: current, occurredAt } as OrderEvent;
}
