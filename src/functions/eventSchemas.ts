import { eventSchemaRoute } from '../http/routes';
import { eventSchema } from '../handlers/eventSchemas';
import { httpFunction } from './shared/httpFunction';

httpFunction(eventSchemaRoute, eventSchema);
