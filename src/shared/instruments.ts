import { Counter, Histogram, MeterProvider, metrics } from '@opentelemetry/api';
import { instrumentationScopes, MetricDefinition } from './telemetryNames';

/** The instrument a metric definition asks for. */
export type InstrumentOf<D extends MetricDefinition> = D['instrument'] extends 'counter'
  ? Counter
  : Histogram;

let provider: MeterProvider | undefined;
let instruments = new Map<string, Counter | Histogram>();

/**
 * The instrument of one declared metric (`instrument(metricDefinitions.commandDuration)`, from
 * src/shared/telemetryNames.ts), created on first use from the global meter provider of the OpenTelemetry API.
 * Created lazily, and again when the provider changes, because the API has no proxy for meters: an instrument
 * created before the SDK starts (a module loaded before src/telemetry/start.ts ran) would stay a no-op for
 * good. Without an SDK every instrument is the API's no-op.
 */
export function instrument<D extends MetricDefinition>(definition: D): InstrumentOf<D> {
  const current = metrics.getMeterProvider();
  if (current !== provider) {
    provider = current;
    instruments = new Map();
  }
  let made = instruments.get(definition.name);
  if (!made) {
    const meter = current.getMeter(instrumentationScopes.app);
    const options = { description: definition.description, unit: definition.unit };
    made =
      definition.instrument === 'counter'
        ? meter.createCounter(definition.name, options)
        : meter.createHistogram(definition.name, {
            ...options,
            ...(definition.buckets ? { advice: { explicitBucketBoundaries: [...definition.buckets] } } : {}),
          });
    instruments.set(definition.name, made);
  }
  return made as InstrumentOf<D>;
}
