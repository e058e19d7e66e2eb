import { InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { computeFunnel, defaultFunnelSteps, funnelDropOffs, FunnelQuery } from '../analytics/funnel/funnel';
import { FunnelQuery as FunnelQuerySchema } from '../http/schemas';
import { computeProcessMap } from '../analytics/funnel/processMap';
import { buildOcelLog } from '../analytics/ocel/ocelLog';
import { processChangeFeedBatch } from '../app/changeFeedBatch';
import { collect, readEventLog } from '../app/eventLog';
import { projectJourneys } from '../app/journeyProjection';
import { FeedDocument } from '../app/projection';
import { services } from '../composition/services';
import { endpoint } from '../http/endpoint';
import { funnelDropOffsRoute, funnelRoute, ocelRoute, processMapRoute } from '../http/routes';

/** The funnel of a validated query (FunnelQuery, or the drop-offs' query that extends it). */
const funnelQueryOf = (query: z.output<typeof FunnelQuerySchema>): FunnelQuery => ({
  steps: query.steps ?? defaultFunnelSteps,
  from: query.from,
  to: query.to,
  windowSeconds: query.window,
  countBy: query.countBy,
  breakdown: query.breakdown,
  time: query.time,
});

/**
 * `GET /api/analytics/funnel`: the funnel of the query over every order journey (src/analytics/funnel/funnel.ts;
 * semantics in docs/analytics.md). Reads the journey projection, so an event shows once the change feed has
 * carried it there.
 */
export const funnel = endpoint(funnelRoute, async ({ services, query }) => {
  const result = computeFunnel(await collect(services.journeys.all()), funnelQueryOf(query));
  return { status: 200, jsonBody: { countBy: query.countBy, time: query.time, ...result } };
});

/**
 * `GET /api/analytics/funnel/drop-offs`: who reached `step` of the same funnel but not the next
 * (src/analytics/funnel/funnel.ts `funnelDropOffs`); `total` equals the next step's `dropOff`.
 */
export const funnelDropOffsHandler = endpoint(funnelDropOffsRoute, async ({ services, query }) => {
  const result = funnelDropOffs(
    await collect(services.journeys.all()),
    funnelQueryOf(query),
    query.step,
    query.limit,
  );
  return { status: 200, jsonBody: result };
});

/** `GET /api/analytics/process-map`: the directly-follows graph over the order journeys (src/analytics/funnel/processMap.ts). */
export const processMap = endpoint(processMapRoute, async ({ services, query }) => {
  const map = computeProcessMap(await collect(services.journeys.all()), query);
  return { status: 200, jsonBody: { time: query.time, ...map } };
});

/**
 * `GET /api/analytics/ocel`: the event log of the business-time range as OCEL 2.0 JSON
 * (src/analytics/ocel/ocelLog.ts), read from the event store's feed from its beginning (the status of an
 * order is folded over its whole stream). The whole log is built in memory: for a large store, use
 * `npm run export -- ocel`, or a range.
 */
export const ocel = endpoint(ocelRoute, async ({ services, query }) => {
  const log = buildOcelLog(await collect(readEventLog(services.store)), { from: query.from, to: query.to });
  return { status: 200, jsonBody: log };
});

/**
 * Change feed → order journeys (src/app/journeyProjection.ts), the state the funnel and process map read. On
 * Azure the Cosmos DB trigger feeds it (lease prefix `orderJourney-`); locally the host's change feed.
 */
export const orderJourneyProjection = async (documents: unknown[], context: InvocationContext) => {
  const { journeys, store } = services();
  await processChangeFeedBatch(
    context.functionName,
    documents,
    async () => {
      const { applied, skipped } = await projectJourneys(documents as FeedDocument[], journeys, store);
      context.debug(`journeys: ${applied} orders updated, ${skipped} commits already applied`);
    },
    services().feedProgress,
  );
};
