import { z } from 'zod';
import { cosmosNames } from './containers';

const loopbackHosts = new Set(['localhost', '127.0.0.1', '[::1]']);
/** True for an `https://localhost`-style URL: an emulator or test server on this machine. */
export const isLoopbackUrl = (url: string | undefined): boolean => {
  try {
    return url !== undefined && loopbackHosts.has(new URL(url).hostname);
  } catch {
    return false;
  }
};

const flag = z
  .enum(['true', 'false'])
  .default('false')
  .transform((v) => v === 'true');

/**
 * Application settings, read from the environment (on Azure: app settings; locally: `local.settings.json`
 * `Values` plus the environment, environment winning). Validated once; a bad value stops start-up with
 * a message naming the setting.
 */
export const settingsSchema = z
  .object({
    DATA_DIR: z.string().min(1).default('./.data'),
    /** Where events live: the embedded SQLite database under DATA_DIR, or Cosmos DB (the COSMOS* settings). */
    EVENT_STORE: z.enum(['sqlite', 'cosmos']).default('sqlite'),
    PORT: z.coerce.number().int().min(0).max(65535).default(7071),
    /** Poll interval of the local change feed, in milliseconds. */
    LOCAL_CHANGE_FEED_POLL_MS: z.coerce.number().int().min(5).max(60_000).default(200),
    /** Minimum level the local host logs (`debug` shows the request charge of every Cosmos DB operation). */
    LOG_LEVEL: z.enum(['trace', 'debug', 'information', 'warning', 'error']).default('information'),
    /**
     * Identity-based connection (Azure): the account endpoint, authenticated with DefaultAzureCredential
     * (managed identity on Azure, developer credentials locally). Same name as the trigger's `COSMOS` setting group.
     */
    COSMOS__accountEndpoint: z.url().optional(),
    /** Client id of a user-assigned managed identity for the identity-based connection (optional). */
    COSMOS__clientId: z.string().min(1).optional(),
    /** Key-based connection, for an emulator or a local server: endpoint and account key, both or neither. */
    COSMOS_ENDPOINT: z.url().optional(),
    COSMOS_KEY: z.string().min(1).optional(),
    /** Database name; the container names are fixed in src/app/containers.ts. */
    COSMOS_DATABASE: z.string().min(1).default(cosmosNames.database),
    /**
     * Accept a self-signed or expired TLS certificate: for an emulator or test server on this machine only,
     * refused for any endpoint that is not localhost/127.0.0.1/[::1].
     */
    COSMOS_TLS_INSECURE: flag,
    /**
     * How the local host reads the events container: `changefeed` (the pull-model change feed, as on any real
     * account or emulator) or `test-server-scan`, for @vercel/cosmosdb-server only, whose change feed is a stub
     * (see src/store/cosmos/cosmosEventStore.ts). Refused for endpoints that are not on this machine.
     */
    COSMOS_FEED_MODE: z.enum(['changefeed', 'test-server-scan']).default('changefeed'),
  })
  .superRefine((s, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if ((s.COSMOS_ENDPOINT === undefined) !== (s.COSMOS_KEY === undefined)) {
      issue(
        s.COSMOS_KEY === undefined ? 'COSMOS_KEY' : 'COSMOS_ENDPOINT',
        'COSMOS_ENDPOINT and COSMOS_KEY go together',
      );
    }
    const endpoint = s.COSMOS_ENDPOINT ?? s.COSMOS__accountEndpoint;
    if (s.EVENT_STORE === 'cosmos' && endpoint === undefined) {
      issue(
        'COSMOS__accountEndpoint',
        'EVENT_STORE=cosmos needs COSMOS__accountEndpoint (identity) or COSMOS_ENDPOINT and COSMOS_KEY (key)',
      );
    }
    if (s.COSMOS_TLS_INSECURE && !isLoopbackUrl(endpoint)) {
      issue(
        'COSMOS_TLS_INSECURE',
        'only allowed for an endpoint on this machine (localhost, 127.0.0.1, [::1])',
      );
    }
    if (s.COSMOS_FEED_MODE === 'test-server-scan' && !isLoopbackUrl(endpoint)) {
      issue('COSMOS_FEED_MODE', 'test-server-scan is only for a test server on this machine');
    }
  });

export type Settings = z.infer<typeof settingsSchema>;

export class SettingsError extends Error {}

/**
 * Parses settings from the environment with a zod schema.
 * @throws SettingsError naming each invalid setting
 */
export function parseSettings<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv): z.infer<T> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new SettingsError(`invalid settings: ${detail}`);
  }
  return parsed.data;
}

/** @throws SettingsError naming each invalid setting */
export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  return parseSettings(settingsSchema, env);
}

/** A JSON object setting such as `{"sku-1": 10}`: product id → non-negative integer. */
export const perProduct = (example: string) =>
  z
    .string()
    .default('{}')
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: `must be a JSON object such as ${example}` });
        return z.NEVER;
      }
    })
    .pipe(z.record(z.string(), z.number().int().min(0)));
