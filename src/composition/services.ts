import type { AcceptanceDeps } from '../acceptance/activities';
import { AcceptancePolicy } from '../acceptance/contract';
import { CloudEventOptions } from '../app/cloudEvents';
import type { EventLake } from '../app/eventLake';
import { OrderService } from '../app/orderService';
import { addRequestCharge } from '../app/tracing';
import { publicBaseUrl, readSettings, Settings, SettingsError } from '../config/settings';
import { azureCredential } from '../config/connections';

import { CloudEventPublisher } from '../ports/cloudEvents';
import { NotificationStore, StockDemandStore } from '../ports/consumers';
import { DeadLetterStore } from '../ports/deadLetters';
import { EventStore } from '../ports/eventStore';
import { IdempotencyStore } from '../ports/idempotency';
import { OrderReadModel } from '../ports/readModel';
import { JourneyStore } from '../ports/journeyStore';
import { FeedProgressStore } from '../ports/feedProgress';
import { StockReservations } from '../ports/stockReservations';
import type { RequestChargeListener } from '../adapters/cosmos/connection';
import { EventGridCloudEventPublisher } from '../adapters/eventgrid/eventGridPublisher';
import { cosmosStores } from './cosmosStores';
import { deadLetterStore } from './deadLetters';
import { eventLake } from './eventLake';
import { sqliteStores } from './sqliteStores';

/**
 * Every service the functions use, built once for the storage the settings choose (see the table of what
 * lives where in README.md): the one composition root. Function handlers take it from {@link services}.
 */
export interface Services {
  settings: Settings;
  store: EventStore;
  orders: OrderService;
  readModel: OrderReadModel;
  /** Order journeys: the funnel and process-map projection (src/ports/journeyStore.ts). */
  journeys: JourneyStore;
  /** How far each change-feed consumer has come (src/ports/feedProgress.ts). */
  feedProgress: FeedProgressStore;
  idempotency: IdempotencyStore;
  stockDemand: StockDemandStore;
  notifications: NotificationStore;
  stock: StockReservations;
  deadLetters: DeadLetterStore;
  /** The Event Grid topic; throws on use when EVENTGRID_TOPIC_ENDPOINT is not set. */
  publisher: CloudEventPublisher;
  cloudEvents: CloudEventOptions;
  acceptance: AcceptancePolicy;
  /** The event lake (src/app/eventLake.ts), built on first use; throws SettingsError then if EVENT_LAKE=blob lacks its connection. */
  readonly lake: EventLake;
  close(): Promise<void>;
}

/** The stores of one storage choice (src/composition/sqliteStores.ts, src/composition/cosmosStores.ts). */
export interface Stores {
  store: EventStore;
  readModel: OrderReadModel;
  /** Order journeys: the funnel and process-map projection (src/ports/journeyStore.ts). */
  journeys: JourneyStore;
  feedProgress: FeedProgressStore;
  idempotency: IdempotencyStore;
  stockDemand: StockDemandStore;
  notifications: NotificationStore;
  stock: StockReservations;
  close(): Promise<void>;
}

export interface ServiceOptions {
  /**
   * Receives the request charge (RU) of every Cosmos DB operation (EVENT_STORE=cosmos); by default it goes on
   * the active span (`azure.cosmosdb.operation.request_charge`), and LOG_LEVEL=debug or trace also writes it
   * with `console.debug` (which the Functions host collects on Azure).
   */
  onRequestCharge?: RequestChargeListener;
}

/**
 * The stores of the chosen storage. libsql's native binary loads only when the embedded database is opened
 * (src/adapters/sqlite/database.ts), so a package without it runs with EVENT_STORE=cosmos.
 */
const storesFor = (settings: Settings, onRequestCharge?: RequestChargeListener): Stores =>
  settings.EVENT_STORE === 'cosmos' ? cosmosStores(settings, onRequestCharge) : sqliteStores(settings);

/** A publisher that is built on first use, so a process that never publishes needs no topic setting. */
function lazyPublisher(settings: Settings): CloudEventPublisher {
  let publisher: CloudEventPublisher | undefined;
  return {
    publish: (batch) => {
      if (!publisher) {
        if (!settings.EVENTGRID_TOPIC_ENDPOINT) {
          throw new SettingsError('invalid settings: EVENTGRID_TOPIC_ENDPOINT is not set');
        }
        publisher = new EventGridCloudEventPublisher({
          endpoint: settings.EVENTGRID_TOPIC_ENDPOINT,
          key: settings.EVENTGRID_TOPIC_KEY,
          credential: settings.EVENTGRID_TOPIC_KEY ? undefined : azureCredential(settings),
          timeoutMs: settings.EVENTGRID_PUBLISH_TIMEOUT_MS,
          maxRetries: settings.EVENTGRID_PUBLISH_MAX_RETRIES,
        });
      }
      return publisher.publish(batch);
    },
  };
}

/** The acceptance policy the settings describe. */
export const acceptancePolicyOf = (s: Settings): AcceptancePolicy => ({
  approvalThreshold: s.APPROVAL_THRESHOLD,
  approvalTimeoutSeconds: s.APPROVAL_TIMEOUT_SECONDS,
  retry: {
    firstRetryIntervalMs: s.RESERVATION_RETRY_FIRST_INTERVAL_MS,
    maxAttempts: s.RESERVATION_RETRY_MAX_ATTEMPTS,
    backoffCoefficient: s.RESERVATION_RETRY_BACKOFF,
    maxRetryIntervalMs: s.RESERVATION_RETRY_MAX_INTERVAL_MS,
    ...(s.RESERVATION_RETRY_TIMEOUT_MS ? { retryTimeoutMs: s.RESERVATION_RETRY_TIMEOUT_MS } : {}),
  },
});

/**
 * Builds every service for the storage the settings choose: the one composition root
 * (docs/adr/0009-layers.md). No request is sent to Azure until the first
 * operation, except that with EVENT_STORE=cosmos and STOCK_LEVELS set the stock levels are written at once
 * (not awaited; a failure is logged).
 * @throws SettingsError when the chosen storage lacks its connection settings
 */
export function createServices(settings: Settings, options: ServiceOptions = {}): Services {
  const debug = settings.LOG_LEVEL === 'debug' || settings.LOG_LEVEL === 'trace';
  // Every charge goes on the active span (the append span carries its commit's RU); debug also logs it.
  const onRequestCharge =
    options.onRequestCharge ??
    ((operation: string, ru: number) => {
      addRequestCharge(ru);
      if (debug) console.debug(`[cosmos] ${operation}: ${ru} RU`);
    });
  const stores = storesFor(settings, onRequestCharge);
  let lake: EventLake | undefined;
  const cloudEvents: CloudEventOptions = {
    source: settings.CLOUDEVENTS_SOURCE,
    typePrefix: settings.CLOUDEVENTS_TYPE_PREFIX,
    schemaBaseUrl: publicBaseUrl(settings),
  };
  return {
    ...stores,
    settings,
    // The command handler sizes each event as the relay will publish it (the same CloudEvent options).
    orders: new OrderService(stores.store, undefined, cloudEvents, {
      dbSystem: settings.EVENT_STORE === 'cosmos' ? 'azure.cosmosdb' : 'sqlite',
    }),
    deadLetters: deadLetterStore(settings),
    publisher: lazyPublisher(settings),
    cloudEvents,
    acceptance: acceptancePolicyOf(settings),
    get lake() {
      return (lake ??= eventLake(settings));
    },
    close: () => stores.close(),
  };
}

let current: Services | undefined;

/** The process-wide services, built on first use from the environment's settings (app settings on Azure). */
export function services(): Services {
  current ??= createServices(readSettings());
  return current;
}

/** Closes the process-wide services (the app's `appTerminate` hook, tests); the next use builds them anew. */
export async function closeServices(): Promise<void> {
  const s = current;
  current = undefined;
  await s?.close();
}

/** What the acceptance activities and the stock release work with, from the process-wide services. */
export function acceptanceDeps(): AcceptanceDeps {
  const s = services();
  return { orders: s.orders, stock: s.stock, policy: s.acceptance };
}
