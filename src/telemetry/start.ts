/**
 * The one place the OpenTelemetry SDK and its exporters are set up (docs/observability.md). The entry points
 * start it before the function files load: src/index.ts on Azure, the local host (src/local/host.ts) for
 * `npm start`. Everything else uses only `@opentelemetry/api`, whose calls are no-ops until this runs.
 *
 * - `APPLICATIONINSIGHTS_CONNECTION_STRING` set (Azure): the Azure Monitor OpenTelemetry distro
 *   (`@azure/monitor-opentelemetry`), authenticated with Entra ID as the app's managed identity
 *   (`azureCredential`: the resource has local authentication disabled), no sampling, Live Metrics off.
 * - otherwise `OTEL_EXPORTER_OTLP_ENDPOINT` set: OTLP/HTTP (JSON) exporters of traces, metrics and logs to that
 *   collector (`/v1/traces`, `/v1/metrics`, `/v1/logs`), through `@opentelemetry/sdk-node`.
 * - otherwise off: no SDK module is even loaded, so telemetry costs nothing.
 *
 * Both add the Azure Functions instrumentation (`@azure/functions-opentelemetry-instrumentation`): its
 * `preInvocation` hook makes the invocation's trace context (the Functions host's span on Azure, the local
 * host's locally) the parent of the handler's spans, and its `log` hook sends `context.log` records as
 * OpenTelemetry logs, carrying the active trace and span id (it also tells the Functions host, through the
 * `WorkerOpenTelemetryEnabled` capability, that the worker sends its own logs).
 */
import type { AzureMonitorOpenTelemetryOptions } from '@azure/monitor-opentelemetry';
import { SpanKind } from '@opentelemetry/api';
import { azureCredential } from '../config/connections';
import { readSettings, Settings } from '../config/settings';
import { instrumentationScopes } from '../shared/telemetryNames';

/* eslint-disable @typescript-eslint/no-require-imports -- SDK modules load only in the mode that uses them */

export type TelemetryMode = 'azure-monitor' | 'otlp' | 'off';

/** Which exporter the settings choose. */
export const telemetryModeOf = (s: Settings): TelemetryMode =>
  s.APPLICATIONINSIGHTS_CONNECTION_STRING ? 'azure-monitor' : s.OTEL_EXPORTER_OTLP_ENDPOINT ? 'otlp' : 'off';

interface Running {
  mode: TelemetryMode;
  shutdown(): Promise<void>;
}

let running: Running | undefined;
let stopping: Promise<void> | undefined;

/** Where telemetry start-up problems are told (the Functions host collects `console` output). */
export interface TelemetryLog {
  error(message: string): void;
}

/**
 * Starts telemetry once per process, as the settings choose; later calls return the mode already running
 * (the local host starts it, then loads src/index.js, which asks again). Never throws: telemetry that cannot
 * start (a malformed connection string) is logged, and the app runs without it.
 */
export function startTelemetry(settings: Settings, log: TelemetryLog = console): TelemetryMode {
  if (running) return running.mode;
  const mode = telemetryModeOf(settings);
  try {
    running =
      mode === 'azure-monitor'
        ? startAzureMonitor(settings)
        : mode === 'otlp'
          ? startOtlp(settings)
          : { mode, shutdown: async () => {} };
  } catch (err) {
    log.error(
      `telemetry (${mode}) could not start, the app runs without it: ${err instanceof Error ? err.message : String(err)}`,
    );
    running = { mode: 'off', shutdown: async () => {} };
  }
  return running.mode;
}

/**
 * {@link startTelemetry} with the environment's settings (the app settings on Azure). With invalid settings
 * nothing starts: the first request that builds the services reports them.
 */
export function startTelemetryFromEnvironment(): TelemetryMode {
  let settings: Settings;
  try {
    settings = readSettings();
  } catch {
    return 'off';
  }
  return startTelemetry(settings);
}

/** The mode running, or undefined before {@link startTelemetry}. */
export const runningTelemetry = (): TelemetryMode | undefined => running?.mode;

/** Exports what is buffered and stops the SDK (the app's `appTerminate` hook, the local host's stop). Idempotent. */
export function stopTelemetry(): Promise<void> {
  stopping ??= (running?.shutdown() ?? Promise.resolve()).catch(() => undefined);
  return stopping;
}

function functionsInstrumentation() {
  const { AzureFunctionsInstrumentation } =
    require('@azure/functions-opentelemetry-instrumentation') as typeof import('@azure/functions-opentelemetry-instrumentation');
  return new AzureFunctionsInstrumentation();
}

function startAzureMonitor(settings: Settings): Running {
  const { useAzureMonitor, shutdownAzureMonitor } =
    require('@azure/monitor-opentelemetry') as typeof import('@azure/monitor-opentelemetry');
  const { registerInstrumentations } =
    require('@opentelemetry/instrumentation') as typeof import('@opentelemetry/instrumentation');
  const options: AzureMonitorOpenTelemetryOptions = {
    azureMonitorExporterOptions: {
      connectionString: settings.APPLICATIONINSIGHTS_CONNECTION_STRING,
      // Identity-based ingestion: the resource refuses the instrumentation key alone.
      credential: azureCredential(settings),
    },
    // Every trace: a command's trace spans processes and minutes (change feed, Event Grid, orchestration),
    // and the distro's default rate limit would cut some of them short.
    samplingRatio: 1,
    tracesPerSecond: 0,
    enableLiveMetrics: false,
    instrumentationOptions: {
      // Outgoing calls (Event Grid, Cosmos DB, the durable client) are dependencies. An incoming request is
      // the Functions host's span, handed over by the invocation; an HTTP server span of this process would
      // be a second request for the same call (the local host serves HTTP in the app's process).
      // (Not ignoring them with a hook: an ignored request runs with tracing suppressed, its handler's spans too.)
      http: { enabled: true, disableIncomingRequestInstrumentation: true } as NonNullable<
        AzureMonitorOpenTelemetryOptions['instrumentationOptions']
      >['http'],
    },
  };
  useAzureMonitor({ ...options, spanProcessors: [namedRequests] });
  // After the distro registered the global providers, so the instrumentation's logger is the distro's.
  registerInstrumentations({ instrumentations: [functionsInstrumentation()] });
  return { mode: 'azure-monitor', shutdown: () => shutdownAzureMonitor() };
}

type SpanProcessor = NonNullable<AzureMonitorOpenTelemetryOptions['spanProcessors']>[number];

/**
 * Application Insights names a request after its operation (`ai.operation.name`), which the exporter sets
 * for HTTP server spans only: a consumer span (a change-feed batch, an Event Grid delivery) is a request too,
 * and would have no name in the portal. This names it after the span.
 */
const namedRequests: SpanProcessor = {
  onStart: (span) => {
    if (span.kind === SpanKind.CONSUMER) span.setAttribute('ai.operation.name', span.name);
  },
  onEnd: () => undefined,
  forceFlush: async () => undefined,
  shutdown: async () => undefined,
};

function startOtlp(settings: Settings): Running {
  const { NodeSDK, tracing, metrics, logs, resources } =
    require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  const { OTLPTraceExporter } =
    require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
  const { OTLPMetricExporter } =
    require('@opentelemetry/exporter-metrics-otlp-http') as typeof import('@opentelemetry/exporter-metrics-otlp-http');
  const { OTLPLogExporter } =
    require('@opentelemetry/exporter-logs-otlp-http') as typeof import('@opentelemetry/exporter-logs-otlp-http');
  const base = settings.OTEL_EXPORTER_OTLP_ENDPOINT!.replace(/\/+$/, '');
  const sdk = new NodeSDK({
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, read by the SDK, win over this name.
    resource: resources.resourceFromAttributes({ 'service.name': instrumentationScopes.app }),
    spanProcessors: [new tracing.BatchSpanProcessor(new OTLPTraceExporter({ url: `${base}/v1/traces` }))],
    metricReaders: [
      new metrics.PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics` }),
        exportIntervalMillis: settings.OTEL_METRIC_EXPORT_INTERVAL,
      }),
    ],
    logRecordProcessors: [new logs.BatchLogRecordProcessor(new OTLPLogExporter({ url: `${base}/v1/logs` }))],
    instrumentations: [functionsInstrumentation()],
  });
  sdk.start();
  return { mode: 'otlp', shutdown: () => sdk.shutdown() };
}
