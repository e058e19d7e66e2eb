import { app, FunctionInput, HttpHandler } from '@azure/functions';
import { answersPreflight, functionRoute, RouteSpec } from '../../http/routes';

/**
 * Registers an HTTP function for a route spec: its name, method and route template come from the spec
 * (src/http/routes.ts), the same one OpenAPI is generated from, so the two cannot differ; the template gets
 * the `api/` prefix there (host.json's own route prefix is empty). The first spec of
 * each route template also takes `OPTIONS`, the CORS preflight `endpoint()` answers for every method of that
 * template (one function per template and method, so no two functions claim the same request).
 * `authLevel` stays anonymous: who may call is decided by App Service Authentication and the route's `auth`.
 */
export function httpFunction(route: RouteSpec, handler: HttpHandler, extraInputs?: FunctionInput[]): void {
  app.http(route.name, {
    methods: answersPreflight(route) ? [route.method, 'OPTIONS'] : [route.method],
    route: functionRoute(route),
    authLevel: 'anonymous',
    ...(extraInputs ? { extraInputs } : {}),
    handler,
  });
}
