import { BulkOperationType, Container, JSONObject, OperationInput } from '@azure/cosmos';
import { createHash } from 'node:crypto';
import {
  InsufficientStockError,
  Reservation,
  ReservationRequest,
  StockReservations,
  StockUnavailableError,
} from '../../ports/stockReservations';
import { chargeOf, CosmosStoreError, explain, RequestChargeListener, statusOf } from './connection';

/** Where and how the Cosmos DB stock reservations keep their state. */
export interface CosmosStockOptions {
  /** The `stockReservations` container (partition key `/productId`). */
  reservations: Container;
  /** The `stockReservationIndex` container (partition key `/id`): reservation id → product. */
  index: Container;
  /**
   * Stock level per product, in units; a product not listed is unlimited. Available = level − units reserved
   * now. The level is read from here at every check, so a changed setting applies at once.
   */
  levels: ReadonlyMap<string, number>;
  /** Simulated transient failures: the first N reservation attempts per reservation id of a product fail. */
  failures?: ReadonlyMap<string, number>;
  clock?: () => Date;
  onRequestCharge?: RequestChargeListener;
}

/**
 * Stock reservations on Cosmos DB (docs/adr/0010-state-on-azure-lives-in-azure-services.md: no state on the
 * app's disk), safe with any
 * number of app instances.
 *
 * ## Documents
 * `stockReservations` container, partition key `/productId` (one logical partition per product):
 * - `stock`: {@link StockDocument}, the units of the product reserved now (and the level last applied);
 * - `reservation.<h(reservationId)>`: {@link ReservationDocument}, one per reservation, never deleted;
 * - `attempts.<h(reservationId)>`: {@link AttemptsDocument}, attempts counted for the simulated failures.
 * `stockReservationIndex` container, partition key `/id`: `<h(reservationId)>` → the product, because
 * `release` and `get` receive the reservation id alone. `h` is SHA-256 (hex), since reservation ids hold
 * `/`, which Cosmos DB ids may not contain (https://learn.microsoft.com/azure/cosmos-db/concepts-limits#per-item-limits).
 *
 * ## Atomicity
 * `reserve` reads the stock document, checks the level, then writes ONE transactional batch in the product's
 * partition: replace the stock document (`ifMatch` on the etag read; create it for a product's first
 * reservation) and create the reservation. A transactional batch commits all or nothing in one logical
 * partition (https://learn.microsoft.com/azure/cosmos-db/nosql/transactional-batch), so units are never
 * taken without a reservation nor a reservation made without its units; and since every change of a
 * product's reservations replaces its stock document, a batch built on a stale read fails (412, or 409 for
 * two first creates) and is decided again from a fresh read. Two instances racing for the last unit: one
 * batch commits, the other sees 412, reads again and gets InsufficientStockError. `release` is the same:
 * one batch replaces the stock document and the reservation (both `ifMatch`). Units of unlimited products
 * are counted too, so limiting a product later accounts for what is reserved.
 *
 * The stock document is read first and written first in each batch. Cosmos DB needs neither; but
 * @vercel/cosmosdb-server (the test server) applies a batch's operations one by one without rollback, and
 * since every change of a product's reservations replaces its stock document, a batch built on any outdated read
 * then stops at its first operation, before writing anything.
 *
 * The index entry is written before the batch, outside it (another partition): an entry whose reservation
 * never came (insufficient stock, a crash) only points to a reservation that does not exist. The one case it
 * does not settle is the same reservation id reserved at once for two different products; callers never do
 * that (the acceptance uses `{orderId}/{productId}`).
 *
 * Request charges go to `onRequestCharge` as `stock.*`.
 */
export class CosmosStockReservations implements StockReservations {
  private readonly reservations: Container;
  private readonly index: Container;
  private readonly levels: ReadonlyMap<string, number>;
  private readonly failures: ReadonlyMap<string, number>;
  private readonly clock: () => Date;
  private readonly onRequestCharge: RequestChargeListener;

  constructor(options: CosmosStockOptions) {
    this.reservations = options.reservations;
    this.index = options.index;
    this.levels = options.levels;
    this.failures = options.failures ?? new Map();
    this.clock = options.clock ?? (() => new Date());
    this.onRequestCharge = options.onRequestCharge ?? (() => {});
  }

  /**
   * Reserves `quantity` units, or returns the existing reservation with this id (even a released one).
   * @throws RangeError when the quantity is not a positive integer (nothing is written)
   * @throws InsufficientStockError when the product's available stock is lower than the quantity
   * @throws StockUnavailableError for a simulated failure, or when {@link maxRounds} rounds all lost to
   *   concurrent writers of the product (a retry may succeed)
   * @throws CosmosStoreError when Cosmos DB fails
   */
  async reserve(request: ReservationRequest): Promise<Reservation> {
    if (!Number.isSafeInteger(request.quantity) || request.quantity <= 0) {
      throw new RangeError(`reservation ${request.reservationId}: quantity must be a positive integer`);
    }
    const elsewhere = await this.claim(request);
    if (elsewhere) return toReservation(elsewhere);
    const { productId, reservationId } = request;
    if ((this.failures.get(productId) ?? 0) > 0) {
      // An existing reservation is returned without counting an attempt, as the embedded store does.
      const existing = await this.readReservation(productId, reservationId);
      if (existing) return toReservation(existing);
      await this.countSimulatedFailure(request);
    }

    const what = `reservation ${reservationId} of ${productId}`;
    for (let round = 0; round < maxRounds; round++) {
      // The stock document is read before the reservation: a reservation made after this read changes the
      // stock document, so the batch's first operation fails on its etag.
      const stock = await this.readStock(productId);
      const existing = await this.readReservation(productId, reservationId);
      if (existing) return toReservation(existing);
      const level = this.levels.get(productId);
      const reserved = stock?.reserved ?? 0;
      if (level !== undefined && level - reserved < request.quantity) {
        throw new InsufficientStockError(productId, request.quantity, level - reserved);
      }
      const reservation: ReservationDocument = {
        id: reservationDocId(reservationId),
        kind: 'reservation',
        productId,
        reservationId,
        orderId: request.orderId,
        quantity: request.quantity,
        status: 'reserved',
        reservedAt: this.clock().toISOString(),
      };
      const failed = await this.runBatch(
        productId,
        [
          this.stockWrite(stock, productId, reserved + request.quantity),
          { operationType: BulkOperationType.Create, resourceBody: json(reservation) },
        ],
        'stock.reserve',
        what,
      );
      if (failed === undefined) return toReservation(reservation);
      // 409 on the reservation: it was made meanwhile (the next round returns it); 409/412 on the stock
      // document: another writer changed the product's reservations; decide again from a fresh read.
      await pause(round);
    }
    throw new StockUnavailableError(`${what}: still contended after ${maxRounds} rounds, retry later`);
  }

  /**
   * Returns the units to stock; `undefined` when no such reservation exists; a released one is returned as is.
   * @throws StockUnavailableError when {@link maxRounds} rounds all lost to concurrent writers of the product
   * @throws CosmosStoreError when Cosmos DB fails, or when a reserved reservation has no stock document
   *   (which an atomic batch cannot produce)
   */
  async release(reservationId: string): Promise<Reservation | undefined> {
    const entry = await this.readIndex(reservationId);
    if (!entry) return undefined;
    const { productId } = entry;
    const what = `release of reservation ${reservationId} of ${productId}`;
    for (let round = 0; round < maxRounds; round++) {
      // Stock first, then the reservation: see reserve.
      const stock = await this.readStock(productId);
      const reservation = await this.readReservation(productId, reservationId);
      if (!reservation) return undefined;
      if (reservation.status === 'released') return toReservation(reservation);
      if (!stock) throw new CosmosStoreError(`${what}: the product has no stock document`);
      const released: ReservationDocument = {
        ...withoutSystem(reservation),
        status: 'released',
        releasedAt: this.clock().toISOString(),
      };
      const failed = await this.runBatch(
        productId,
        [
          this.stockWrite(stock, productId, stock.reserved - reservation.quantity),
          {
            operationType: BulkOperationType.Replace,
            id: released.id,
            ifMatch: reservation._etag,
            resourceBody: json(released),
          },
        ],
        'stock.release',
        what,
      );
      if (failed === undefined) return toReservation(released);
      await pause(round);
    }
    throw new StockUnavailableError(`${what}: still contended after ${maxRounds} rounds, retry later`);
  }

  /** @throws CosmosStoreError when a read fails */
  async get(reservationId: string): Promise<Reservation | undefined> {
    const entry = await this.readIndex(reservationId);
    if (!entry) return undefined;
    const doc = await this.readReservation(entry.productId, reservationId);
    return doc && toReservation(doc);
  }

  /**
   * Units available now (level − units reserved; negative when the level was lowered below what is
   * reserved); `undefined` for a product without a level (unlimited).
   * @throws CosmosStoreError when the read fails
   */
  async available(productId: string): Promise<number | undefined> {
    const level = this.levels.get(productId);
    if (level === undefined) return undefined;
    return level - ((await this.readStock(productId))?.reserved ?? 0);
  }

  /** The client belongs to whoever opened the connection (CosmosConnection.dispose); nothing to release here. */
  async close(): Promise<void> {}

  /**
   * Points the reservation id at the request's product in the index. Returns the existing reservation when
   * the id is already reserved for another product (the port returns an existing reservation as is).
   */
  private async claim(request: ReservationRequest): Promise<ReservationDocument | undefined> {
    const id = hashOf(request.reservationId);
    const what = `index entry of reservation ${request.reservationId}`;
    for (let round = 0; round < maxRounds; round++) {
      const entry = await this.readIndex(request.reservationId);
      if (entry?.productId === request.productId) return undefined;
      if (entry) {
        const other = await this.readReservation(entry.productId, request.reservationId);
        if (other) return other;
      }
      const next: IndexDocument = {
        id,
        reservationId: request.reservationId,
        productId: request.productId,
      };
      try {
        const response = entry
          ? await this.index
              .item(id, id)
              .replace(next, { accessCondition: { type: 'IfMatch', condition: entry._etag } })
          : await this.index.items.create(next);
        this.onRequestCharge('stock.claim', response.requestCharge);
        return undefined;
      } catch (err) {
        const status = statusOf(err);
        if (status !== 409 && status !== 412) throw explain(what, err);
      }
      await pause(round);
    }
    throw new StockUnavailableError(`${what}: still contended after ${maxRounds} rounds, retry later`);
  }

  /**
   * Counts one attempt of a reservation of a product named in `failures` (a conditional write, so concurrent
   * attempts each count) and fails the first N. Counted before, and apart from, the reservation's batch, so a
   * failed attempt still counts.
   * @throws StockUnavailableError for the first N attempts of each reservation id
   */
  private async countSimulatedFailure(request: ReservationRequest): Promise<void> {
    const planned = this.failures.get(request.productId) ?? 0;
    if (planned <= 0) return;
    const { productId, reservationId } = request;
    const id = `attempts.${hashOf(reservationId)}`;
    const what = `attempt count of reservation ${reservationId}`;
    for (let round = 0; round < maxRounds; round++) {
      const doc = await this.read<AttemptsDocument>(this.reservations, id, productId, 'stock.readAttempts');
      const next: AttemptsDocument = {
        id,
        kind: 'attempts',
        productId,
        reservationId,
        attempts: (doc?.attempts ?? 0) + 1,
      };
      try {
        const response = doc
          ? await this.reservations
              .item(id, productId)
              .replace(next, { accessCondition: { type: 'IfMatch', condition: doc._etag } })
          : await this.reservations.items.create(next);
        this.onRequestCharge('stock.countAttempt', response.requestCharge);
      } catch (err) {
        const status = statusOf(err);
        if (status !== 409 && status !== 412) throw explain(what, err);
        await pause(round);
        continue;
      }
      if (next.attempts <= planned) {
        throw new StockUnavailableError(
          `stock service unavailable for ${productId} (simulated failure ${next.attempts} of ${planned})`,
        );
      }
      return;
    }
    throw new StockUnavailableError(`${what}: still contended after ${maxRounds} rounds, retry later`);
  }

  /** The stock document with `reserved` units: a replace conditioned on the etag read, or a create. */
  private stockWrite(
    read: (StockDocument & { _etag: string }) | undefined,
    productId: string,
    reserved: number,
  ): OperationInput {
    const next: StockDocument = {
      id: stockId,
      kind: 'stock',
      productId,
      reserved,
      level: this.levels.get(productId) ?? null,
    };
    return read
      ? {
          operationType: BulkOperationType.Replace,
          id: stockId,
          ifMatch: read._etag,
          resourceBody: json(next),
        }
      : { operationType: BulkOperationType.Create, resourceBody: json(next) };
  }

  /**
   * Runs one transactional batch in the product's partition. Returns undefined when every operation
   * succeeded, or the status (409 or 412) of the operation whose condition failed.
   * @throws CosmosStoreError for any other failure, naming every operation's status
   */
  private async runBatch(
    productId: string,
    operations: OperationInput[],
    operation: string,
    what: string,
  ): Promise<409 | 412 | undefined> {
    let statuses: number[];
    try {
      const response = await this.reservations.items.batch(
        operations.map((op) => ({ ...op, partitionKey: productId }) as OperationInput),
        productId,
      );
      this.onRequestCharge(operation, chargeOf(response.headers));
      statuses = (response.result ?? []).map((r) => r.statusCode);
    } catch (err) {
      throw explain(what, err);
    }
    if (statuses.length === operations.length && statuses.every((s) => s >= 200 && s < 300)) return undefined;
    // A rejected batch still resolves: the failed operation has its own status, the others answer 424.
    const failed = statuses.find((s) => s >= 400 && s !== 424);
    if (failed === 409 || failed === 412) return failed;
    throw new CosmosStoreError(`${what} failed: batch operation statuses [${statuses.join(', ') || 'none'}]`);
  }

  private readIndex(reservationId: string) {
    const id = hashOf(reservationId);
    return this.read<IndexDocument>(this.index, id, id, 'stock.readIndex');
  }

  private readReservation(productId: string, reservationId: string) {
    return this.read<ReservationDocument>(
      this.reservations,
      reservationDocId(reservationId),
      productId,
      'stock.readReservation',
    );
  }

  private readStock(productId: string) {
    return this.read<StockDocument>(this.reservations, stockId, productId, 'stock.readStock');
  }

  /** A point read; undefined when the document does not exist. */
  private async read<T>(
    container: Container,
    id: string,
    partitionKey: string,
    operation: string,
  ): Promise<(T & { _etag: string }) | undefined> {
    try {
      const response = await container.item(id, partitionKey).read<T & { _etag: string }>();
      this.onRequestCharge(operation, response.requestCharge);
      return response.resource;
    } catch (err) {
      throw explain(`read of ${container.id} document ${id} in partition ${partitionKey}`, err);
    }
  }
}

/** Units of one product reserved now (`id` is always `stock`). */
interface StockDocument {
  id: typeof stockId;
  kind: 'stock';
  productId: string;
  /** Units held by reservations in status `reserved`. */
  reserved: number;
  /** The level from the settings of the last writer (informational; every check uses its own settings). */
  level: number | null;
}

interface ReservationDocument {
  id: string;
  kind: 'reservation';
  productId: string;
  reservationId: string;
  orderId: string;
  quantity: number;
  status: 'reserved' | 'released';
  reservedAt: string;
  releasedAt?: string;
}

interface AttemptsDocument {
  id: string;
  kind: 'attempts';
  productId: string;
  reservationId: string;
  attempts: number;
}

interface IndexDocument {
  id: string;
  reservationId: string;
  productId: string;
}

const stockId = 'stock';
/** Rounds lost to concurrent writers of one product before StockUnavailableError (each round has one winner). */
const maxRounds = 32;

const reservationDocId = (reservationId: string) => `reservation.${hashOf(reservationId)}`;

function hashOf(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** Documents are plain JSON by construction. */
const json = (doc: object): JSONObject => doc as unknown as JSONObject;

function withoutSystem(doc: ReservationDocument): ReservationDocument {
  const { id, kind, productId, reservationId, orderId, quantity, status, reservedAt, releasedAt } = doc;
  return {
    id,
    kind,
    productId,
    reservationId,
    orderId,
    quantity,
    status,
    reservedAt,
    ...(releasedAt ? { releasedAt } : {}),
  };
}

function toReservation(doc: ReservationDocument): Reservation {
  return {
    reservationId: doc.reservationId,
    orderId: doc.orderId,
    productId: doc.productId,
    quantity: doc.quantity,
    status: doc.status,
    reservedAt: doc.reservedAt,
    ...(doc.releasedAt ? { releasedAt: doc.releasedAt } : {}),
  };
}

/** A short random pause after a lost race, growing with the round (at most 100 ms), so racers spread out. */
function pause(round: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(100, 2 ** round)));
}
