import { SpanKind } from '@opentelemetry/api';
import { CommitDocument } from '../ports/eventStore';
import { FeedProgressStore } from '../ports/feedProgress';
import { instrument } from '../shared/instruments';
import { attributeNames, metricDefinitions } from '../shared/telemetryNames';
import { ambientLink, continuation, inSpan, spanContextOf } from './tracing';

const isCommit = (d: unknown): d is CommitDocument =>
  typeof d === 'object' && d !== null && (d as { kind?: unknown }).kind === 'commit';

/**
 * Runs the work of one change-feed function on one batch of documents, observed (docs/observability.md):
 * - `orders.changefeed.consumer.lag`: for each commit, the time from its `recordedAt` to now, by function;
 * - a `changefeed <function>` span (kind consumer) linked to the trace context each commit was appended in (its
 *   events' `traceparent`), the parent being that context when every commit of the batch comes from one trace
 *   (see `continuation`), so the batch shows in the command's own trace. The function's work runs inside it.
 * A batch without commits (only head documents) runs its work without a span.
 * When the work succeeds and `progress` is given, the newest `recordedAt` of the batch is recorded there (the
 * overview's change-feed lag); a failure to record is logged and does not fail the batch, which is done.
 */
export async function processChangeFeedBatch<T>(
  consumer: string,
  documents: readonly unknown[],
  work: () => Promise<T>,
  progress?: FeedProgressStore,
): Promise<T> {
  const commits = documents.filter(isCommit);
  if (commits.length === 0) return work();
  const result = await observed(consumer, commits, work);
  if (progress) {
    const newest = commits.reduce((max, c) => (c.recordedAt > max ? c.recordedAt : max), '');
    if (newest) {
      await progress.record(consumer, newest).catch((err: unknown) => {
        console.warn(`change feed ${consumer}: recording its progress failed: ${String(err)}`);
      });
    }
  }
  return result;
}

function observed<T>(consumer: string, commits: CommitDocument[], work: () => Promise<T>): Promise<T> {
  const now = Date.now();
  const lag = instrument(metricDefinitions.changeFeedConsumerLag);
  for (const commit of commits) {
    const recorded = Date.parse(commit.recordedAt);
    if (Number.isFinite(recorded)) {
      lag.record(Math.max(0, now - recorded) / 1000, { [attributeNames.changeFeedConsumer]: consumer });
    }
  }
  const { parent, links } = continuation(
    commits.map((c) => {
      const metadata = Array.isArray(c.e) ? c.e[0]?.metadata : undefined;
      return {
        sc: spanContextOf(metadata?.traceparent, metadata?.tracestate),
        attributes: { [attributeNames.orderId]: String(c.orderId), [attributeNames.streamVersion]: c.n },
      };
    }),
  );
  return inSpan(
    `changefeed ${consumer}`,
    {
      kind: SpanKind.CONSUMER,
      parent,
      links: [...links, ...ambientLink(parent)],
      attributes: {
        [attributeNames.changeFeedConsumer]: consumer,
        [attributeNames.messagingOperationType]: 'process',
        [attributeNames.messagingBatchCount]: commits.length,
      },
    },
    () => work(),
  );
}
