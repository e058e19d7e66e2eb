import { Container } from '@azure/cosmos';
import { createHash } from 'node:crypto';
import { IdempotencyStore, pendingTtlMs, RecordedResponse, Reservation } from '../../ports/idempotency';
import { explain, RequestChargeListener, statusOf } from './connection';

/**
 * One idempotency key in the `idempotencyKeys` container (partition key `/id`). The id is the SHA-256 of the
 * scoped key, because a scoped key holds a path and Cosmos ids may not contain `/`. Documents expire with the
 * container's default time to live (`idempotencyTtlSeconds` in src/adapters/cosmos/containers.ts, 24 h after the last write).
 */
interface KeyDocument {
  id: string;
  key: string;
  fingerprint: string;
  /** When the reservation was taken, in milliseconds since the epoch. */
  reservedAt: number;
  response?: RecordedResponse;
}

type Stored = KeyDocument & { _etag: string };

const maxReserveRounds = 5;
const idOf = (key: string) => createHash('sha256').update(key).digest('hex');

/**
 * Idempotency keys on Cosmos DB: a reservation is a create (a 409 means someone else holds the key) or a
 * takeover of an expired reservation with `ifMatch` on its etag, so two requests never both get `reserved`.
 */
export class CosmosIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly container: Container,
    private readonly onRequestCharge: RequestChargeListener = () => {},
  ) {}

  async reserve(key: string, fingerprint: string): Promise<Reservation> {
    const id = idOf(key);
    for (let round = 0; round < maxReserveRounds; round++) {
      const doc = await this.read(id);
      const now = Date.now();
      if (doc) {
        if (doc.fingerprint !== fingerprint) return { outcome: 'mismatch' };
        if (doc.response) return { outcome: 'replay', response: doc.response };
        if (now - doc.reservedAt < pendingTtlMs) return { outcome: 'in-progress' };
      }
      const fresh: KeyDocument = { id, key, fingerprint, reservedAt: now };
      try {
        const response = doc
          ? await this.container
              .item(id, id)
              .replace(fresh, { accessCondition: { type: 'IfMatch', condition: doc._etag } })
          : await this.container.items.create(fresh);
        this.onRequestCharge('idempotency.reserve', response.requestCharge);
        return { outcome: 'reserved' };
      } catch (err) {
        const status = statusOf(err);
        if (status !== 409 && status !== 412) throw explain('idempotency key reservation', err);
        // Another request took the key in between: look again.
      }
    }
    return { outcome: 'in-progress' };
  }

  async complete(key: string, response: RecordedResponse): Promise<void> {
    const id = idOf(key);
    const doc = await this.read(id);
    if (!doc) return;
    try {
      const written = await this.container.item(id, id).replace({ ...stripSystem(doc), response });
      this.onRequestCharge('idempotency.complete', written.requestCharge);
    } catch (err) {
      throw explain('idempotency key completion', err);
    }
  }

  async release(key: string): Promise<void> {
    const id = idOf(key);
    const doc = await this.read(id);
    if (!doc || doc.response) return;
    try {
      const deleted = await this.container
        .item(id, id)
        .delete({ accessCondition: { type: 'IfMatch', condition: doc._etag } });
      this.onRequestCharge('idempotency.release', deleted.requestCharge);
    } catch (err) {
      const status = statusOf(err);
      if (status !== 404 && status !== 412) throw explain('idempotency key release', err);
    }
  }

  private async read(id: string): Promise<Stored | undefined> {
    try {
      const response = await this.container.item(id, id).read<Stored>();
      this.onRequestCharge('idempotency.read', response.requestCharge);
      return response.resource;
    } catch (err) {
      throw explain('idempotency key read', err);
    }
  }
}

function stripSystem(doc: Stored): KeyDocument {
  const { id, key, fingerprint, reservedAt, response } = doc;
  return { id, key, fingerprint, reservedAt, ...(response ? { response } : {}) };
}
