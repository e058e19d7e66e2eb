import { app } from '@azure/functions';
import { funnelDropOffsRoute, funnelRoute, ocelRoute, processMapRoute } from '../http/routes';
import {
  funnel,
  funnelDropOffsHandler,
  ocel,
  orderJourneyProjection,
  processMap,
} from '../handlers/analytics';
import { eventsChangeFeed } from './shared/changeFeedTrigger';
import { httpFunction } from './shared/httpFunction';

httpFunction(funnelRoute, funnel);
httpFunction(funnelDropOffsRoute, funnelDropOffsHandler);
httpFunction(processMapRoute, processMap);
httpFunction(ocelRoute, ocel);

app.cosmosDB('orderJourneyProjection', {
  ...eventsChangeFeed('orderJourney-'),
  handler: orderJourneyProjection,
});
