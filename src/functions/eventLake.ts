import { app } from '@azure/functions';
import { eventLakeConsumer } from '../handlers/eventLake';
import { eventsChangeFeed } from './shared/changeFeedTrigger';

// Its own lease prefix: the lake keeps its own position, and a new deployment starts from the beginning (backfill).
app.cosmosDB('eventLake', {
  ...eventsChangeFeed('eventLake-'),
  handler: eventLakeConsumer,
});
