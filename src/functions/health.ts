import { healthRoute, openApiRoute } from '../http/routes';
import { health, openApi } from '../handlers/health';
import { httpFunction } from './shared/httpFunction';

httpFunction(healthRoute, health);
httpFunction(openApiRoute, openApi);
