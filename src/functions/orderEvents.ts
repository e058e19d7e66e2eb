import { orderEventsRoute } from '../http/routes';
import { orderEvents } from '../handlers/orderEvents';
import { httpFunction } from './shared/httpFunction';

httpFunction(orderEventsRoute, orderEvents);
