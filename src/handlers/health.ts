import { endpoint } from '../http/endpoint';
import { openApiDocument } from '../http/openapi';
import { healthRoute, openApiRoute } from '../http/routes';

export const health = endpoint(healthRoute, async ({ services }) => ({
  status: 200,
  jsonBody: { status: 'ok', eventStore: services.settings.EVENT_STORE },
}));

export const openApi = endpoint(openApiRoute, async () => ({ status: 200, jsonBody: openApiDocument() }));
