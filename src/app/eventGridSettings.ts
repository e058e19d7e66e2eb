import { z } from 'zod';
import { parseSettings, perProduct } from './settings';

/**
 * Settings of publishing to Event Grid and of its consumers, read from the environment.
 * `EVENTGRID_TOPIC_ENDPOINT` with `EVENTGRID_TOPIC_KEY` uses a key; without the key, the identity
 * (`DefaultAzureCredential`: managed identity on Azure). The local host sets both to its own topic when
 * the endpoint is not set.
 */
export const eventGridSettingsSchema = z.object({
  EVENTGRID_TOPIC_ENDPOINT: z.url().optional(),
  EVENTGRID_TOPIC_KEY: z.string().min(1).optional(),
  /** Milliseconds before one publish call is abandoned. */
  EVENTGRID_PUBLISH_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  EVENTGRID_PUBLISH_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
  /** CloudEvent `source` of every published event. */
  CLOUDEVENTS_SOURCE: z.string().min(1).default('/order-service/orders'),
  /** Reverse-DNS prefix of CloudEvent `type`. */
  CLOUDEVENTS_TYPE_PREFIX: z
    .string()
    .regex(/^[a-z0-9]+(\.[a-z0-9-]+)+$/)
    .default('com.contoso.orders'),
  /** Absolute URL the API is reached at, for `dataschema`; on Azure defaults to https://$WEBSITE_HOSTNAME. */
  PUBLIC_BASE_URL: z.url().optional(),
  WEBSITE_HOSTNAME: z.string().optional(),
  /** JSON object of available stock per product, e.g. {"sku-1": 10}. */
  STOCK_LEVELS: perProduct('{"sku-1": 10}'),
  /** Local host: JSON file of webhook subscriptions to the local topic. */
  LOCAL_EVENTGRID_SUBSCRIPTIONS: z.string().min(1).optional(),
  /** Local host: key the local topic requires in `aeg-sas-key` (generated at start when not set). */
  LOCAL_EVENTGRID_KEY: z.string().min(1).optional(),
  /** Local host: multiplies every retry delay (Event Grid's schedule, change-feed retries); <1 in tests. */
  LOCAL_RETRY_SCALE: z.coerce.number().positive().max(1).default(1),
  LOCAL_EVENTGRID_POLL_MS: z.coerce.number().int().min(5).max(60_000).default(250),
  /** Local host: seconds a webhook may take to answer one delivery (Event Grid waits 30 s). */
  LOCAL_EVENTGRID_DELIVERY_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
});

export type EventGridSettings = z.infer<typeof eventGridSettingsSchema>;

/** @throws SettingsError naming each invalid setting */
export function readEventGridSettings(env: NodeJS.ProcessEnv = process.env): EventGridSettings {
  return parseSettings(eventGridSettingsSchema, env);
}

/** Base URL for `dataschema`: the setting, else the Azure host name, else the local host. */
export function publicBaseUrl(s: EventGridSettings, localPort = Number(process.env.PORT ?? 7071)): string {
  if (s.PUBLIC_BASE_URL) return s.PUBLIC_BASE_URL;
  if (s.WEBSITE_HOSTNAME) return `https://${s.WEBSITE_HOSTNAME}`;
  return `http://127.0.0.1:${localPort}`;
}
