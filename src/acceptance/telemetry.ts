import { Attributes, SpanKind } from '@opentelemetry/api';
import { ambientLink, contextOf, inSpan, spanContextOf } from '../app/tracing';
import { instrument } from '../shared/instruments';
import { attributeNames, metricDefinitions } from '../shared/telemetryNames';
import { ActivityBase } from './contract';

/**
 * Records one ended acceptance in `orders.acceptance.duration`: its outcome, and the time from the
 * orchestration's start to its end. The orchestrator calls it from the episode that ends it, never from a
 * replay (`isReplaying`), as Durable Functions asks of any side effect of an orchestrator; it makes no span.
 */
export function recordAcceptance(outcome: string, milliseconds: number): void {
  instrument(metricDefinitions.acceptanceDuration).record(Math.max(0, milliseconds) / 1000, {
    [attributeNames.acceptanceOutcome]: outcome,
  });
}

/**
 * Runs one run of an acceptance activity in a span named after the activity function, a child of the
 * acceptance's trace context (`input.traceparent`, the starter's span: the submit's trace), linked to the
 * invocation's own context when the host gives one. Every run is a span: a retried activity shows each attempt.
 */
export function activitySpan<T>(name: string, input: ActivityBase, work: () => Promise<T>): Promise<T> {
  const sc = spanContextOf(input.traceparent);
  const attributes: Attributes = {
    [attributeNames.orderId]: input.orderId,
    [attributeNames.acceptanceInstance]: input.instanceId,
  };
  const parent = sc ? contextOf(sc) : undefined;
  return inSpan(
    name,
    {
      kind: SpanKind.INTERNAL,
      attributes,
      ...(parent ? { parent, links: ambientLink(parent) } : {}),
    },
    () => work(),
  );
}
