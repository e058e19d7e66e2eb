import { addItemRoute, removeItemRoute } from '../http/routes';
import { addItem, removeItem } from '../handlers/orderItems';
import { httpFunction } from './shared/httpFunction';

httpFunction(addItemRoute, addItem);
httpFunction(removeItemRoute, removeItem);
