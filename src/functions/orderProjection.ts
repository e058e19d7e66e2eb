import { app } from '@azure/functions';
import { orderReadModelProjection } from '../handlers/orderProjection';
import { eventsChangeFeed } from './shared/changeFeedTrigger';

app.cosmosDB('orderReadModelProjection', {
  ...eventsChangeFeed('orderReadModel-'),
  handler: orderReadModelProjection,
});
