import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * A webhook subscription to the local topic, as in `LOCAL_EVENTGRID_SUBSCRIPTIONS`. Names and defaults
 * follow Event Grid event subscriptions: `includedEventTypes` lists CloudEvent `type` values (missing
 * means all), `maxDeliveryAttempts` 1-30 (default 30), `eventTimeToLiveInMinutes` 1-1440 (default 1440).
 * Output batching (learn.microsoft.com/azure/event-grid/delivery-and-retry#output-batching): up to
 * `maxEventsPerBatch` events (1-5,000, default 1) per request, as a CloudEvents batch, while the body stays within
 * `preferredBatchSizeInKilobytes` (1-1,024, default 64; an event larger than that goes alone). A batch is
 * delivered or fails as a whole, as Event Grid's; the events of a failed batch are retried one by one (each still an
 * array, as every request to a subscriber that asked for batches is).
 */
export const webhookSubscription = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9-]{3,64}$/, 'must be 3-64 letters, digits or hyphens'),
  endpointUrl: z.url({ protocol: /^https?$/ }),
  includedEventTypes: z.array(z.string().min(1)).min(1).optional(),
  maxDeliveryAttempts: z.number().int().min(1).max(30).default(30),
  eventTimeToLiveInMinutes: z.number().int().min(1).max(1440).default(1440),
  maxEventsPerBatch: z.number().int().min(1).max(5000).default(1),
  preferredBatchSizeInKilobytes: z.number().int().min(1).max(1024).default(64),
});
export type WebhookSubscription = z.infer<typeof webhookSubscription>;

/** @throws Error naming the file and the invalid field */
export function loadSubscriptions(file: string | undefined): WebhookSubscription[] {
  if (!file) return [];
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`LOCAL_EVENTGRID_SUBSCRIPTIONS: cannot read ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const parsed = z.array(webhookSubscription).safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`LOCAL_EVENTGRID_SUBSCRIPTIONS: ${file}: [${issue.path.join('.')}] ${issue.message}`);
  }
  const names = parsed.data.map((s) => s.name);
  const dupe = names.find((n, k) => names.indexOf(n) !== k);
  if (dupe)
    throw new Error(`LOCAL_EVENTGRID_SUBSCRIPTIONS: ${file}: subscription name ${dupe} appears twice`);
  return parsed.data;
}

/**
 * Event Grid's retry schedule (learn.microsoft.com/azure/event-grid/delivery-and-retry): 10 s, 30 s, 1 min,
 * 5 min, 10 min, 30 min, 1 h, 3 h, 6 h, then every 12 h, bounded by the attempts and time-to-live.
 */
export const retryScheduleSeconds = [10, 30, 60, 300, 600, 1800, 3600, 10800, 21600];

/** Delay before attempt `attempt + 1` (attempt counts from 1), in ms, times `scale`. */
export const retryDelayMs = (attempt: number, scale: number): number =>
  (retryScheduleSeconds[attempt - 1] ?? 43200) * 1000 * scale;

/**
 * Status codes Event Grid does not retry for webhooks, dead-lettering at once
 * (same page: 400, 401, 403, 413).
 */
export const noRetryStatuses = new Set([400, 401, 403, 413]);
