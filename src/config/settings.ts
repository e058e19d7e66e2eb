import { z } from 'zod';

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

const positiveMs = z.coerce.number().int().positive();
const unsetIfEmpty = (v: unknown) => (v === '' ? undefined : v);

/** A JSON object setting such as `{"sku-1": 10}`: product id → non-negative integer, as a `Map`. */
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
    .pipe(z.record(z.string(), z.number().int().min(0)))
    // A Map, so a product id such as `__proto__` or `constructor` is data, never an object's property.
    .transform((record) => new Map(Object.entries(record)));

/** The setting that names the Cosmos DB database: the app writes to it and the change-feed triggers read it. */
export const cosmosDatabaseSetting = 'COSMOS_DATABASE';

/**
 * The application's settings: one schema, parsed once by the composition root (src/composition/services.ts).
 * On Azure they are app settings (set by Bicep); locally `local.settings.json` `Values` plus the
 * environment, the environment winning. The local host's own `LOCAL_*` settings are in src/local/settings.ts
 * (docs/adr/0009-layers.md).
 * A bad value stops start-up with a message naming the setting.
 */
export const settingsSchema = z
  .object({
    /** Local only: folder of the embedded store and of the file dead letters. Never used on Azure. */
    DATA_DIR: z.string().min(1).default('./.data'),
    /**
     * Where the application's state lives (events, read model, idempotency keys, consumer state, stock
     * reservations, notifications): the embedded SQLite database under DATA_DIR, or Cosmos DB.
     */
    EVENT_STORE: z.enum(['sqlite', 'cosmos']).default('sqlite'),
    /** Where dead letters go: JSON files under DATA_DIR/dead-letters, or blobs in an Azure Storage container. */
    DEAD_LETTERS: z.enum(['files', 'blob']).default('files'),
    /** Blob service of the dead-letter container, identity-based (`https://<account>.blob.core.windows.net`). */
    DEAD_LETTERS_STORAGE__blobServiceUri: z.url().optional(),
    /**
     * Connection string of the dead-letter storage account, for Azurite only (`UseDevelopmentStorage=true`,
     * optionally with `DevelopmentStorageProxyUri`); refused for anything else, since keys do not belong in settings.
     */
    DEAD_LETTERS_STORAGE: z.string().min(1).optional(),
    DEAD_LETTERS_CONTAINER: z
      .string()
      .regex(/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/, 'must be a valid blob container name')
      .default('dead-letters'),
    /**
     * Where the event lake goes (docs/analytics.md, docs/adr/0011-event-lake-is-a-change-feed-consumer.md):
     * Parquet files in a folder (EVENT_LAKE_FOLDER), or blobs in a Blob / Data Lake Storage Gen2 container.
     */
    EVENT_LAKE: z.enum(['files', 'blob']).default('files'),
    /** The lake folder with EVENT_LAKE=files; default `DATA_DIR/lake`. */
    EVENT_LAKE_FOLDER: z.preprocess(unsetIfEmpty, z.string().min(1).optional()),
    /**
     * Blob service of the lake's account, identity-based (`https://<account>.blob.core.windows.net`, also for a
     * Data Lake Storage Gen2 account); the identity needs Storage Blob Data Contributor on the container.
     */
    EVENT_LAKE__blobServiceUri: z.url().optional(),
    /**
     * Connection of the lake for Azurite only, as DEAD_LETTERS_STORAGE: `UseDevelopmentStorage=true`, optionally
     * with `;DevelopmentStorageProxyUri=http://127.0.0.1:<port>`; anything else is refused.
     */
    EVENT_LAKE_STORAGE: z.string().min(1).optional(),
    /** The lake's container (a Data Lake Gen2 file system); Bicep creates it on Azure. */
    EVENT_LAKE_CONTAINER: z
      .string()
      .regex(/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/, 'must be a valid blob container name')
      .default('events'),
    /** Staged change-feed batches are rolled into Parquet once they hold this many bytes (of JSON). */
    EVENT_LAKE_ROLL_BYTES: z.coerce
      .number()
      .int()
      .min(1)
      .max(1024 ** 3)
      .default(64 * 1024 ** 2),
    /** ... or once the oldest staged batch is this many seconds old (checked when a batch arrives; 0: every batch). */
    EVENT_LAKE_ROLL_SECONDS: z.coerce
      .number()
      .int()
      .min(0)
      .max(24 * 3600)
      .default(300),
    /** Rows per Parquet file at most (a table's date with more rows in one roll gets several files). */
    EVENT_LAKE_MAX_ROWS_PER_FILE: z.coerce.number().int().min(1).max(10_000_000).default(1_000_000),
    /** Minimum level logged (`debug` shows the request charge of every Cosmos DB operation). */
    LOG_LEVEL: z.enum(['trace', 'debug', 'information', 'warning', 'error']).default('information'),
    /**
     * Application Insights resource to send traces, metrics and logs to (docs/observability.md). Set on Azure
     * (Bicep; the Functions host reads it too); the app then sends with the Azure Monitor OpenTelemetry
     * distro, authenticated with Entra ID as the app's identity (AZURE_CLIENT_ID), since the resource accepts no
     * key. An identifier, not a secret. Wins over OTEL_EXPORTER_OTLP_ENDPOINT.
     */
    APPLICATIONINSIGHTS_CONNECTION_STRING: z.preprocess(unsetIfEmpty, z.string().min(1).optional()),
    /**
     * Base URL of an OpenTelemetry collector's OTLP/HTTP receiver (`http://localhost:4318`): without an
     * Application Insights connection string, traces, metrics and logs go there (`/v1/traces`, `/v1/metrics`,
     * `/v1/logs`, JSON). Unset: telemetry is off, no SDK is loaded. The standard `OTEL_*` variables of the
     * OpenTelemetry SDK (headers, service name, export interval) apply.
     */
    OTEL_EXPORTER_OTLP_ENDPOINT: z.preprocess(unsetIfEmpty, z.url({ protocol: /^https?$/ }).optional()),
    /** With OTEL_EXPORTER_OTLP_ENDPOINT: how often metrics are exported, in ms (the OpenTelemetry default). */
    OTEL_METRIC_EXPORT_INTERVAL: positiveMs.default(60_000),
    /**
     * Client id of the app's user-assigned managed identity: every credential the app builds (Cosmos DB,
     * Event Grid, Storage) uses it. The triggers' connection reads `COSMOS__clientId`, which must then
     * name the same identity.
     */
    AZURE_CLIENT_ID: z.string().min(1).optional(),
    /**
     * Identity-based connection (Azure): the account endpoint, authenticated with DefaultAzureCredential
     * (managed identity on Azure, developer credentials locally). Same name as the trigger's `COSMOS` setting group.
     */
    COSMOS__accountEndpoint: z.url().optional(),
    /** The trigger's `credential` of the `COSMOS` connection (`managedidentity` on Azure). */
    COSMOS__credential: z.string().min(1).optional(),
    /** Client id of a user-assigned managed identity for the `COSMOS` connection (the trigger's setting). */
    COSMOS__clientId: z.string().min(1).optional(),
    /** Key-based connection, for an emulator or a local server: endpoint and account key, both or neither. */
    COSMOS_ENDPOINT: z.url().optional(),
    COSMOS_KEY: z.string().min(1).optional(),
    /**
     * Database name, required with EVENT_STORE=cosmos: the change-feed triggers read the same setting
     * (`%COSMOS_DATABASE%`), so the two cannot diverge. Container names are fixed in src/adapters/cosmos/containers.ts.
     */
    [cosmosDatabaseSetting]: z.string().min(1).optional(),
    /**
     * Accept a self-signed or expired TLS certificate: for an emulator or test server on this machine only,
     * refused for any endpoint that is not localhost/127.0.0.1/[::1].
     */
    COSMOS_TLS_INSECURE: flag,
    /**
     * How the local host reads the events container: `changefeed` (the pull-model change feed, as on any real
     * account or emulator) or `test-server-scan`, for @vercel/cosmosdb-server only, whose change feed is a stub
     * (see src/adapters/cosmos/cosmosEventStore.ts). Refused for endpoints that are not on this machine.
     */
    COSMOS_FEED_MODE: z.enum(['changefeed', 'test-server-scan']).default('changefeed'),

    /**
     * Event Grid topic the relay publishes to. With `EVENTGRID_TOPIC_KEY` it uses the key (the local
     * topic only); otherwise the identity. The local host sets both to its own topic when unset.
     */
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
    /** Set by App Service (and so by Azure Functions) on Azure, never locally: the app runs on Azure. */
    WEBSITE_SITE_NAME: z.preprocess(unsetIfEmpty, z.string().optional()),
    /** Set to `True` by App Service when App Service Authentication (Easy Auth) is on for the app. */
    WEBSITE_AUTH_ENABLED: z.preprocess(unsetIfEmpty, z.string().optional()),
    /**
     * Who the caller is. `appservice`: App Service Authentication (Microsoft Entra ID) in front of the app;
     * the `x-ms-client-principal` headers it sets are trusted, and only on Azure with it on. `development`:
     * a bearer token signed with the key in `DATA_DIR/dev-signin.key` (`npm run token`); refused on Azure.
     * Default: `appservice` on Azure (`WEBSITE_SITE_NAME` set), else `development`.
     */
    AUTH_MODE: z.preprocess(unsetIfEmpty, z.enum(['appservice', 'development']).optional()),
    /**
     * Origins a browser may call the API from (CORS), comma-separated, e.g.
     * `https://shop.example,http://localhost:5173`; none by default.
     */
    CORS_ALLOWED_ORIGINS: z
      .string()
      .default('')
      .transform((text, ctx) => {
        const origins = text
          .split(',')
          .map((o) => o.trim())
          .filter(Boolean);
        for (const origin of origins) {
          let ok: boolean;
          try {
            const u = new URL(origin);
            ok = (u.protocol === 'https:' || u.protocol === 'http:') && u.origin === origin;
          } catch {
            ok = false;
          }
          if (!ok)
            ctx.addIssue({
              code: 'custom',
              message: `${origin} is not an origin such as https://shop.example`,
            });
        }
        return origins;
      }),

    /**
     * Order total above which a person must approve the order, in the order's currency (decimal string);
     * an order whose total equals it needs no approval.
     */
    APPROVAL_THRESHOLD: z
      .string()
      .regex(/^\d{1,16}(\.\d{1,6})?$/, 'must be a non-negative decimal such as "1000.00"')
      .default('1000.00'),
    /** How long an order above the threshold waits for an approval before it is rejected, in seconds. */
    APPROVAL_TIMEOUT_SECONDS: z.coerce
      .number()
      .int()
      .positive()
      .max(90 * 24 * 3600)
      .default(24 * 3600),
    /** Retry policy of each stock reservation (durable-functions `RetryOptions`): first delay, in ms. */
    RESERVATION_RETRY_FIRST_INTERVAL_MS: positiveMs.default(1000),
    /** Total attempts of one reservation, the first included. */
    RESERVATION_RETRY_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(3),
    /** Each further delay is the previous one times this. */
    RESERVATION_RETRY_BACKOFF: z.coerce.number().min(1).max(10).default(2),
    /** Upper bound of one delay, in ms. */
    RESERVATION_RETRY_MAX_INTERVAL_MS: positiveMs.default(30_000),
    /** Time after the first attempt past which no further attempt starts, in ms (unset: no limit). */
    RESERVATION_RETRY_TIMEOUT_MS: z.preprocess(unsetIfEmpty, positiveMs.optional()),
    /**
     * Task hub of Durable Functions (host.json `extensions.durableTask.hubName` reads it as
     * `%DURABLE_TASK_HUB%`). Azure Storage rules: 3-45 letters or digits, starting with a letter.
     */
    DURABLE_TASK_HUB: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9]{2,44}$/, 'must be 3-45 letters or digits, starting with a letter')
      .default('OrderAcceptanceHub'),
    /**
     * Available stock per product, e.g. `{"sku-1": 10}`: what acceptance reserves from and what the stock
     * check compares demand with; unlisted products are unlimited.
     */
    STOCK_LEVELS: perProduct('{"sku-1": 10}'),
    /**
     * Simulated outages of the stock service, for tests and demos: `{"sku-1": 2}` makes the first two
     * reservation attempts of `sku-1` in each order fail with a transient error, the third succeed.
     */
    STOCK_RESERVATION_FAILURES: perProduct('{"sku-1": 2}'),
  })
  .superRefine((s, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (s.AUTH_MODE === 'development' && s.WEBSITE_SITE_NAME !== undefined) {
      issue('AUTH_MODE', 'development sign-in is never enabled on Azure (WEBSITE_SITE_NAME is set)');
    }
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
    if (s.EVENT_STORE === 'cosmos' && s[cosmosDatabaseSetting] === undefined) {
      issue(cosmosDatabaseSetting, 'EVENT_STORE=cosmos needs the database name (the triggers read it too)');
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
    if (s.AZURE_CLIENT_ID && s.COSMOS__clientId && s.AZURE_CLIENT_ID !== s.COSMOS__clientId) {
      issue('COSMOS__clientId', 'must name the same identity as AZURE_CLIENT_ID');
    }
    if (s.DEAD_LETTERS === 'blob' && !s.DEAD_LETTERS_STORAGE__blobServiceUri && !s.DEAD_LETTERS_STORAGE) {
      issue(
        'DEAD_LETTERS_STORAGE__blobServiceUri',
        'DEAD_LETTERS=blob needs the blob service URI (identity), or DEAD_LETTERS_STORAGE for Azurite',
      );
    }
    // Azurite only: `UseDevelopmentStorage=true` (the SDK supplies the emulator's well-known account and key),
    // optionally with `;DevelopmentStorageProxyUri=<http(s) origin>`, which src/composition/deadLetters.ts reads
    // as Azurite's address. Nothing else may follow, so no account key or other endpoint can be slipped in.
    const developmentStorage =
      /^UseDevelopmentStorage=true(;DevelopmentStorageProxyUri=https?:\/\/[^\s;/?#@]+\/?)?;?$/;
    if (s.EVENT_LAKE === 'blob' && !s.EVENT_LAKE__blobServiceUri && !s.EVENT_LAKE_STORAGE) {
      issue(
        'EVENT_LAKE__blobServiceUri',
        'EVENT_LAKE=blob needs the blob service URI (identity), or EVENT_LAKE_STORAGE for Azurite',
      );
    }
    if (s.EVENT_LAKE_STORAGE && !developmentStorage.test(s.EVENT_LAKE_STORAGE)) {
      issue(
        'EVENT_LAKE_STORAGE',
        'only UseDevelopmentStorage=true (Azurite), optionally with ;DevelopmentStorageProxyUri=http://127.0.0.1:<port>, ' +
          'is accepted; use the identity (EVENT_LAKE__blobServiceUri) on Azure',
      );
    }
    if (s.DEAD_LETTERS_STORAGE && !developmentStorage.test(s.DEAD_LETTERS_STORAGE)) {
      issue(
        'DEAD_LETTERS_STORAGE',
        'only UseDevelopmentStorage=true (Azurite), optionally with ;DevelopmentStorageProxyUri=http://127.0.0.1:<port>, ' +
          'is accepted; use the identity (DEAD_LETTERS_STORAGE__blobServiceUri) on Azure',
      );
    }
  });

export type Settings = z.infer<typeof settingsSchema>;

/** A setting is missing or invalid; the message names each one. */
export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SettingsError';
  }
}

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

/** The client id every credential of the app uses: AZURE_CLIENT_ID, else the trigger connection's. */
export const managedIdentityClientId = (s: Settings): string | undefined =>
  s.AZURE_CLIENT_ID ?? s.COSMOS__clientId;

/** The authentication mode in force: the setting, else `appservice` on Azure and `development` elsewhere. */
export const authModeOf = (s: Settings): 'appservice' | 'development' =>
  s.AUTH_MODE ?? (s.WEBSITE_SITE_NAME !== undefined ? 'appservice' : 'development');

/** Base URL for `dataschema` and links: the setting, else the Azure host name, else the local default. */
export function publicBaseUrl(s: Settings): string {
  if (s.PUBLIC_BASE_URL) return s.PUBLIC_BASE_URL.replace(/\/$/, '');
  if (s.WEBSITE_HOSTNAME) return `https://${s.WEBSITE_HOSTNAME}`;
  return 'http://127.0.0.1:7071';
}
