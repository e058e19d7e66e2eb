import { createOrderRoute, getOrderRoute, listOrdersRoute } from '../http/routes';
import { createOrder, getOrder, listOrders } from '../handlers/orders';
import { httpFunction } from './shared/httpFunction';

httpFunction(createOrderRoute, createOrder);
httpFunction(getOrderRoute, getOrder);
httpFunction(listOrdersRoute, listOrders);
