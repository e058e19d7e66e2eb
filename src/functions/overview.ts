import { meRoute, overviewRoute, recentEventsRoute } from '../http/routes';
import { me, overview, recentEvents } from '../handlers/overview';
import { httpFunction } from './shared/httpFunction';

httpFunction(meRoute, me);
httpFunction(overviewRoute, overview);
httpFunction(recentEventsRoute, recentEvents);
