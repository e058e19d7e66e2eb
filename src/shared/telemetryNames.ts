/**
 * Every name the application's telemetry uses, declared once: metrics (with their attributes), span
 * attributes and the instrumentation scopes. The instruments are created from these declarations
 * (src/shared/instruments.ts), and the alerts and workbook in infra/ read the metrics from the file generated
 * from this module (`npm run infra:generate` → infra/generated/telemetry.json), so a query can never name a
 * metric the code does not emit (test/infra/telemetryContract.spec.ts checks both ways). docs/observability.md
 * shows where each one appears.
 *
 * Names follow the OpenTelemetry semantic conventions where one exists (`db.client.operation.duration`,
 * `messaging.client.sent.messages`, `messaging.process.duration`, the `cloudevents.*`, `messaging.*`, `db.*`,
 * `http.*` and `error.type` attributes: https://opentelemetry.io/docs/specs/semconv/); what is this
 * application's own lives under `orders.*` (and `eventgrid.*` for the relay and the local topic). Units follow
 * UCUM as the conventions ask (`s` for durations, `{event}` for counts:
 * https://opentelemetry.io/docs/specs/semconv/general/metrics/#instrument-units). On Azure the Azure Monitor
 * exporter writes each metric to the `customMetrics` table under its name, its attributes in
 * `customDimensions`. No attribute carries personal data or a key: order ids, event types and function names
 * only, never a customer id.
 */

/** The instrumentation scope (tracer and meter name) of the application's code, and of the local host's. */
export const instrumentationScopes = {
  app: 'order-service',
  localHost: 'order-service.local-host',
} as const;

/** Span and metric attributes. */
export const attributeNames = {
  // ---- this application's own ----
  /** The order a span is about (order ids are not personal data; customer ids never appear). */
  orderId: 'orders.order_id',
  /** The command handled: `CreateOrder`, `AddProduct`, `SubmitOrder`, ... */
  commandType: 'orders.command.type',
  /** What became of a command: {@link commandOutcomes}. */
  commandOutcome: 'orders.command.outcome',
  /** The stream version a command was decided on (before), and the one its commit made (after). */
  expectedVersion: 'orders.stream.expected_version',
  streamVersion: 'orders.stream.version',
  /** Events a command decided (and a commit carries). */
  eventCount: 'orders.commit.event_count',
  /** The change-feed function processing a batch (its name: `eventGridRelay`, `orderReadModelProjection`, ...). */
  changeFeedConsumer: 'orders.changefeed.consumer',
  /** What an Event Grid consumer made of an event: applied, duplicate, stale, malformed. */
  consumerOutcome: 'orders.consumer.outcome',
  /** How an order acceptance ended: accepted, rejected, cancelled, skipped, failed. */
  acceptanceOutcome: 'orders.acceptance.outcome',
  /** The acceptance orchestration instance (`acceptance-{orderId}`). */
  acceptanceInstance: 'orders.acceptance.instance_id',
  /** Local topic: `delivered`, `retry` (failed, retried later) or `dead-lettered`. */
  deliveryOutcome: 'eventgrid.delivery.outcome',
  /** Local topic: a captured `function` or a `webhook` of LOCAL_EVENTGRID_SUBSCRIPTIONS. */
  destinationKind: 'eventgrid.destination.kind',

  // ---- OpenTelemetry semantic conventions ----
  httpMethod: 'http.request.method',
  httpRoute: 'http.route',
  httpStatus: 'http.response.status_code',
  httpRequestBodySize: 'http.request.body.size',
  urlPath: 'url.path',
  urlScheme: 'url.scheme',
  urlFull: 'url.full',
  serverAddress: 'server.address',
  serverPort: 'server.port',
  errorType: 'error.type',
  dbSystem: 'db.system.name',
  dbOperation: 'db.operation.name',
  dbCollection: 'db.collection.name',
  /** Request units of the Cosmos DB operations inside a span, summed. */
  requestCharge: 'azure.cosmosdb.operation.request_charge',
  messagingSystem: 'messaging.system',
  messagingOperationName: 'messaging.operation.name',
  messagingOperationType: 'messaging.operation.type',
  messagingBatchCount: 'messaging.batch.message_count',
  messagingSubscription: 'messaging.destination.subscription.name',
  cloudEventId: 'cloudevents.event_id',
  cloudEventSource: 'cloudevents.event_source',
  cloudEventSpecVersion: 'cloudevents.event_spec_version',
  cloudEventSubject: 'cloudevents.event_subject',
  cloudEventType: 'cloudevents.event_type',
} as const;

/** Values of {@link attributeNames.commandOutcome}. */
export const commandOutcomes = {
  /** Events were appended. */
  appended: 'appended',
  /** The decider decided nothing: the command changed nothing (a repeat). */
  unchanged: 'unchanged',
  /** The decider refused the command (not found, conflict with the order's state, invalid): 404, 409, 422. */
  refused: 'refused',
  /** The caller's expected version was stale, or concurrent writers won every retry: 412. */
  versionConflict: 'version_conflict',
  /** Anything else: a bug, a store failure, an event too large. */
  failed: 'failed',
} as const;

/** `messaging.system` of Event Grid (a value the conventions list). */
export const eventGridSystem = 'eventgrid';

/** Explicit bucket boundaries, in seconds: the conventions' advice for durations, and one for lags. */
const durationBuckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
const lagBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

const a = attributeNames;

/** One metric: its name, instrument, unit, meaning and the attributes it is recorded with. */
export interface MetricDefinition {
  name: string;
  instrument: 'counter' | 'histogram';
  unit: string;
  description: string;
  attributes: readonly string[];
  /** Histograms only: explicit bucket boundaries (an OTLP backend uses them; Azure Monitor keeps count, sum, min, max). */
  buckets?: readonly number[];
  /** Emitted by the local host only (`npm start`): on Azure the platform's own metrics say the same. */
  localOnly?: boolean;
}

/**
 * Every metric the application emits (keys are stable: Bicep reads them from infra/generated/telemetry.json).
 * A histogram's count is the number of things it measured, so `commandDuration` also counts commands by type
 * and outcome, and `acceptanceDuration` acceptances by outcome.
 */
export const metricDefinitions = {
  commandDuration: {
    name: 'orders.command.duration',
    instrument: 'histogram',
    unit: 's',
    description:
      'Commands handled (HTTP, acceptance activities, import), by type and outcome, and how long each took, in seconds',
    attributes: [a.commandType, a.commandOutcome],
    buckets: durationBuckets,
  },
  appendDuration: {
    name: 'db.client.operation.duration',
    instrument: 'histogram',
    unit: 's',
    description: 'Duration of appending one commit to the event store (operation "append"), in seconds',
    attributes: [a.dbSystem, a.dbOperation, a.dbCollection, a.errorType],
    buckets: durationBuckets,
  },
  publisherDeadLettered: {
    name: 'eventgrid.publisher.deadlettered',
    instrument: 'counter',
    unit: '{event}',
    description:
      'Events the relay set aside because Event Grid can never accept them (too large, or refused with 400/413)',
    attributes: [a.cloudEventType, a.httpStatus],
  },
  publisherParked: {
    name: 'eventgrid.publisher.parked',
    instrument: 'counter',
    unit: '{commit}',
    description:
      'Commits the relay set aside after its last attempt failed (replay with npm run replay-parked)',
    attributes: [],
  },
  changeFeedLag: {
    name: 'orders.changefeed.lag',
    instrument: 'histogram',
    unit: 's',
    description:
      'Time from a commit being recorded in the event store to its events being accepted by Event Grid, in seconds',
    attributes: [],
    buckets: lagBuckets,
  },
  changeFeedConsumerLag: {
    name: 'orders.changefeed.consumer.lag',
    instrument: 'histogram',
    unit: 's',
    description:
      'Time from a commit being recorded in the event store to a change-feed function starting on it, by function, in seconds',
    attributes: [a.changeFeedConsumer],
    buckets: lagBuckets,
  },
  eventsSent: {
    name: 'messaging.client.sent.messages',
    instrument: 'counter',
    unit: '{message}',
    description:
      'CloudEvents the relay sent to Event Grid: accepted, or with error.type when the publish request failed',
    attributes: [a.messagingSystem, a.messagingOperationName, a.errorType],
  },
  publishDuration: {
    name: 'messaging.client.operation.duration',
    instrument: 'histogram',
    unit: 's',
    description: 'Duration of one publish request of the relay to Event Grid, in seconds',
    attributes: [a.messagingSystem, a.messagingOperationName, a.errorType],
    buckets: durationBuckets,
  },
  consumerDuration: {
    name: 'messaging.process.duration',
    instrument: 'histogram',
    unit: 's',
    description:
      'CloudEvents processed by each Event Grid consumer, by event type and outcome, and how long each took, in seconds',
    attributes: [
      a.messagingSystem,
      a.messagingOperationName,
      a.messagingSubscription,
      a.cloudEventType,
      a.consumerOutcome,
      a.errorType,
    ],
    buckets: durationBuckets,
  },
  localDeliveries: {
    name: 'eventgrid.local.deliveries',
    instrument: 'counter',
    unit: '{delivery}',
    description:
      'Delivery attempts of the local Event Grid topic (npm start only), by subscription, destination kind and outcome',
    attributes: [a.messagingSubscription, a.destinationKind, a.deliveryOutcome, a.httpStatus],
    // On Azure, Event Grid's DeliveryAttemptFailCount and DeadLetteredCount (infra/modules/alerts.bicep).
    localOnly: true,
  },
  acceptanceDuration: {
    name: 'orders.acceptance.duration',
    instrument: 'histogram',
    unit: 's',
    description:
      'Order acceptances that ended, by outcome, and the time from the orchestration start to its end, in seconds',
    attributes: [a.acceptanceOutcome],
    buckets: lagBuckets,
  },
} as const satisfies Record<string, MetricDefinition>;

export type MetricKey = keyof typeof metricDefinitions;
