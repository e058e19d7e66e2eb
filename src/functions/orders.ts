import { createOrderRoute, getOrderRoute, importOrdersRoute, listOrdersRoute } from '../http/routes';
import { createOrder, getOrder, listOrders } from '../handlers/orders';
import { importOrders } from '../handlers/orderImport';
import { httpFunction } from './shared/httpFunction';

httpFunction(createOrderRoute, createOrder);
httpFunction(getOrderRoute, getOrder);
httpFunction(listOrdersRoute, listOrders);
httpFunction(importOrdersRoute, importOrders);
