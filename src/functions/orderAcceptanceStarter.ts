import { app } from '@azure/functions';
import * as df from 'durable-functions';
import { orderAcceptanceStarter } from '../acceptance/starter';
import { eventsChangeFeed } from './shared/changeFeedTrigger';

app.cosmosDB('orderAcceptanceStarter', {
  ...eventsChangeFeed('acceptance-'),
  extraInputs: [df.input.durableClient()],
  handler: orderAcceptanceStarter,
});
