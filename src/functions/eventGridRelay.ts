import { app, type ExponentialBackoffRetryOptions } from '@azure/functions';
import { eventGridRelay } from '../handlers/eventGridRelay';
import { eventsChangeFeed } from './shared/changeFeedTrigger';

/**
 * The relay's bounded retry (learn.microsoft.com/azure/azure-functions/functions-bindings-error-pages): 12
 * retries, exponential from 1 s to 5 min. The Functions host waits 1 s before the first retry, then the
 * minimum plus a doubling increment (±20 % jitter): 1, 2, 3, 5, 9, 17, 33, 65, 129, 257, 300, 300 s, about
 * 19 minutes in all, plus the 13 publish attempts themselves (each at most EVENTGRID_PUBLISH_TIMEOUT_MS
 * times 1 + EVENTGRID_PUBLISH_MAX_RETRIES). A topic outage or throttling of up to roughly 20 minutes is thus
 * bridged with the stream kept in order and nothing for an operator to do; a batch that still fails after
 * that is parked (channel `parked`, replayed with `npm run replay-parked`) and the lease moves on, so one
 * batch never holds the stream for longer.
 */
export const relayRetry: ExponentialBackoffRetryOptions = {
  strategy: 'exponentialBackoff',
  maxRetryCount: 12,
  minimumInterval: { seconds: 1 },
  maximumInterval: { minutes: 5 },
};

app.cosmosDB('eventGridRelay', { ...eventsChangeFeed('eventGrid-', relayRetry), handler: eventGridRelay });
