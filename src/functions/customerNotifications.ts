import { app } from '@azure/functions';
import { orderNotificationsRoute } from '../http/routes';
import { customerNotifications, orderNotifications } from '../handlers/customerNotifications';
import { httpFunction } from './shared/httpFunction';

app.eventGrid('customerNotifications', { handler: customerNotifications });
httpFunction(orderNotificationsRoute, orderNotifications);
