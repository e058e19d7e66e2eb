import { app } from '@azure/functions';
import { endpoint } from '../http/endpoint';
import { openApiDocument } from '../http/openapi';
import { healthRoute, openApiRoute } from '../http/routes';

app.http(healthRoute.name, {
  methods: [healthRoute.method],
  route: healthRoute.route,
  authLevel: 'anonymous',
  handler: endpoint(healthRoute, async ({ services }) => ({
    status: 200,
    jsonBody: { status: 'ok', eventStore: services.settings.EVENT_STORE },
  })),
});

app.http(openApiRoute.name, {
  methods: [openApiRoute.method],
  route: openApiRoute.route,
  authLevel: 'anonymous',
  handler: endpoint(openApiRoute, async () => ({ status: 200, jsonBody: openApiDocument() })),
});
