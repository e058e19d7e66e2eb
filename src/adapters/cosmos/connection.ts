import {
  Container,
  CosmosClient,
  CosmosClientOptions,
  Database,
  ErrorResponse,
  RetryOptions,
} from '@azure/cosmos';
import type { TokenCredential } from '@azure/identity';
import { Agent } from 'node:https';
import { cosmosNames } from './containers';

/**
 * Receives the request charge of every Cosmos DB operation the adapters run.
 * @param operation what ran, as `container.operation` (e.g. `events.append`, `readModel.list`)
 * @param requestCharge its cost in request units (RU), from the `x-ms-request-charge` response header
 */
export type RequestChargeListener = (operation: string, requestCharge: number) => void;

/**
 * Retry of throttled requests (HTTP 429), set on the client rather than left to SDK defaults:
 * - `maxRetryAttemptCount` (9): how many times one request is retried after a 429 before the error surfaces.
 * - `fixedRetryIntervalInMilliseconds` (0): 0 means wait what the server asks for in `x-ms-retry-after-ms`
 *   instead of a fixed interval, which is what Cosmos DB recommends.
 * - `maxWaitTimeInSeconds` (30): the total time one request may spend waiting across its retries; after it
 *   the 429 surfaces (a 500 on the API, well inside the 230 s HTTP limit of Azure Functions).
 * Other transient failures are the SDK's own business: connection errors are retried for reads and queries
 * (not for writes, whose outcome is unknown), 503 and timeouts fail over to another region where the account
 * has one. Source: @azure/cosmos `RetryOptions` and https://learn.microsoft.com/azure/cosmos-db/nosql/conceptual-resilient-sdk-applications
 */
export const throttlingRetryOptions: RetryOptions = {
  maxRetryAttemptCount: 9,
  fixedRetryIntervalInMilliseconds: 0,
  maxWaitTimeInSeconds: 30,
};

/** How to reach the account: the composition root builds it from the settings. */
export interface CosmosConnectionOptions {
  /** Account endpoint, e.g. `https://<account>.documents.azure.com:443/`. */
  endpoint: string;
  /** Account key: an emulator or a test server only. Without it, `credential` is used. */
  key?: string;
  /** Entra ID credential (the app's managed identity on Azure). */
  credential?: TokenCredential;
  /** Database id. */
  database: string;
  /** Accept a self-signed certificate: only for an endpoint on this machine. */
  tlsInsecure?: boolean;
}

const loopbackHosts = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Client options: key authentication when a key is given (an emulator, a test server), otherwise the
 * credential (Entra ID, the data-plane RBAC role of the identity).
 * @throws CosmosStoreError when neither is given, or when insecure TLS is asked for a remote endpoint
 */
export function cosmosClientOptions(options: CosmosConnectionOptions): CosmosClientOptions {
  const base: CosmosClientOptions = {
    endpoint: options.endpoint,
    connectionPolicy: { retryOptions: throttlingRetryOptions },
    userAgentSuffix: 'order-events',
  };
  if (options.key) base.key = options.key;
  else if (options.credential) base.aadCredentials = options.credential;
  else throw new CosmosStoreError('cosmos: neither a key nor a credential was given');
  if (options.tlsInsecure) {
    if (!loopbackHosts.has(new URL(options.endpoint).hostname)) {
      throw new CosmosStoreError('cosmos: insecure TLS is only allowed for an endpoint on this machine');
    }
    // Only this client's connections skip certificate checks, and only to this machine.
    base.agent = new Agent({ rejectUnauthorized: false, keepAlive: true });
  }
  return base;
}

/** The database and containers of the service on one client; `dispose` closes the client's connections. */
export class CosmosConnection {
  readonly database: Database;
  readonly events: Container;
  readonly leases: Container;
  readonly readModel: Container;
  readonly idempotency: Container;
  /** Consumer state of the customer notifications (partition key `/orderId`). */
  readonly notifications: Container;
  /** Consumer state of the stock check: demand per product (partition key `/productId`). */
  readonly stockDemand: Container;
  /** Stock documents, reservations and attempt counters (partition key `/productId`). */
  readonly stockReservations: Container;
  /** Reservation id → product (partition key `/id`). */
  readonly reservationIndex: Container;
  /** Order journeys of the funnel and process map (partition key `/orderId`). */
  readonly journeys: Container;

  constructor(
    readonly client: CosmosClient,
    databaseId: string = cosmosNames.database,
  ) {
    this.database = client.database(databaseId);
    this.events = this.database.container(cosmosNames.events.id);
    this.leases = this.database.container(cosmosNames.leases.id);
    this.readModel = this.database.container(cosmosNames.readModel.id);
    this.idempotency = this.database.container(cosmosNames.idempotency.id);
    this.notifications = this.database.container(cosmosNames.notifications.id);
    this.stockDemand = this.database.container(cosmosNames.stockDemand.id);
    this.stockReservations = this.database.container(cosmosNames.stockReservations.id);
    this.reservationIndex = this.database.container(cosmosNames.reservationIndex.id);
    this.journeys = this.database.container(cosmosNames.journeys.id);
  }

  /** Opens a client. No request is sent until the first operation. */
  static open(options: CosmosConnectionOptions): CosmosConnection {
    return new CosmosConnection(new CosmosClient(cosmosClientOptions(options)), options.database);
  }

  dispose(): void {
    this.client.dispose();
  }
}

/** A failed Cosmos DB request: the status code of an SDK `ErrorResponse`, or undefined for any other error. */
export function statusOf(err: unknown): number | undefined {
  if (err instanceof ErrorResponse || (typeof err === 'object' && err !== null && 'code' in err)) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'number' ? code : undefined;
  }
  return undefined;
}

/** An operation against Cosmos DB failed in a way the port has no error for; the message says what and why. */
export class CosmosStoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CosmosStoreError';
  }
}

/**
 * Wraps an SDK error with the operation and, for a 404 on a container, the hint that the database has not
 * been set up. Returns errors the caller should rethrow.
 */
export function explain(operation: string, err: unknown): Error {
  const status = statusOf(err);
  const detail = err instanceof Error ? err.message.split('\n')[0] : String(err);
  const hint = status === 404 ? ' (database or container missing? run "npm run cosmos:setup")' : '';
  return new CosmosStoreError(
    `cosmos ${operation} failed${status ? ` with ${status}` : ''}: ${detail}${hint}`,
    {
      cause: err,
    },
  );
}

/** Reads the request charge of a raw response's headers (batch responses carry no `requestCharge` field). */
export function chargeOf(headers: Record<string, unknown> | undefined): number {
  const value = Number(headers?.['x-ms-request-charge']);
  return Number.isFinite(value) ? value : 0;
}
