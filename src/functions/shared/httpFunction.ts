import { app, FunctionInput, HttpHandler } from '@azure/functions';
import { RouteSpec } from '../../http/routes';

/**
 * Registers an HTTP function for a route spec: its name, method and route template come from the spec
 * (src/http/routes.ts), the same one OpenAPI is generated from, so the two cannot differ.
 */
export function httpFunction(route: RouteSpec, handler: HttpHandler, extraInputs?: FunctionInput[]): void {
  app.http(route.name, {
    methods: [route.method],
    route: route.route,
    authLevel: 'anonymous',
    ...(extraInputs ? { extraInputs } : {}),
    handler,
  });
}
