import { cancelOrderRoute, submitOrderRoute } from '../http/routes';
import { submitOrder, cancelOrder } from '../handlers/orderLifecycle';
import { httpFunction } from './shared/httpFunction';

httpFunction(submitOrderRoute, submitOrder);
httpFunction(cancelOrderRoute, cancelOrder);
