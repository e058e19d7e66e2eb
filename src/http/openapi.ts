import { OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { registry } from './routes';

let cached: object | undefined;

/** The OpenAPI 3.1 document of the HTTP API, generated from the zod schemas of routes.ts. */
export function openApiDocument(): object {
  cached ??= new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Order service',
      version: '0.1.0',
      description: 'Event-sourced orders: every change is an event; state is folded from them.',
    },
    servers: [{ url: '/' }],
  });
  return cached;
}
