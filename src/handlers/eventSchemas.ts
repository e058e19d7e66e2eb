import { z } from 'zod';
import { DomainError } from '../domain/decider';
import { eventDataSchema } from '../domain/events';
import { endpoint } from '../http/endpoint';
import { eventSchemaRoute } from '../http/routes';

/** JSON Schema (draft 2020-12) of one event type's data at one schema version: the CloudEvent `dataschema`. */
export const eventSchema = endpoint(eventSchemaRoute, async ({ params }) => {
  const schema = eventDataSchema(params.eventType, params.schemaVersion);
  if (!schema)
    throw new DomainError('not-found', `no schema for ${params.eventType} v${params.schemaVersion}`);
  return {
    status: 200,
    headers: { 'content-type': 'application/schema+json', 'cache-control': 'public, max-age=86400' },
    body: JSON.stringify({
      ...z.toJSONSchema(schema),
      title: `${params.eventType} v${params.schemaVersion}`,
    }),
  };
});
