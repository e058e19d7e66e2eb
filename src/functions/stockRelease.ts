import { app } from '@azure/functions';
import * as df from 'durable-functions';
import { stockRelease } from '../acceptance/cancellation';
import { eventsChangeFeed } from './shared/changeFeedTrigger';

app.cosmosDB('stockRelease', {
  ...eventsChangeFeed('stockRelease-'),
  extraInputs: [df.input.durableClient()],
  handler: stockRelease,
});
