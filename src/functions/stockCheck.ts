import { app } from '@azure/functions';
import { stockDemandRoute } from '../http/routes';
import { stockCheck, stockDemand } from '../handlers/stockCheck';
import { httpFunction } from './shared/httpFunction';

app.eventGrid('stockCheck', { handler: stockCheck });
httpFunction(stockDemandRoute, stockDemand);
