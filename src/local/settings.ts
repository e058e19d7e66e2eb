import { z } from 'zod';
import { parseSettings, SettingsError } from '../config/settings';

/** What a system key may contain: it travels unencoded in query strings and paths. */
export const durableKeyPattern = /^[A-Za-z0-9_-]{16,}$/;

/**
 * The local host's own settings (never read on Azure, where the Functions host, Event Grid and the Durable
 * Functions extension do these jobs). The application's settings are src/config/settings.ts.
 */
export const localSettingsSchema = z.object({
  /** Port of the local host's HTTP server (0: any free port). */
  PORT: z.coerce.number().int().min(0).max(65535).default(7071),
  /** How often the local change feed looks for commits other processes wrote, in milliseconds. */
  LOCAL_CHANGE_FEED_POLL_MS: z.coerce.number().int().min(5).max(60_000).default(200),
  /** JSON file of webhook subscriptions to the local topic. */
  LOCAL_EVENTGRID_SUBSCRIPTIONS: z.string().min(1).optional(),
  /** Key the local topic requires in `aeg-sas-key` (generated at start when not set). */
  LOCAL_EVENTGRID_KEY: z.string().min(1).optional(),
  /** Multiplies every retry delay (Event Grid's schedule, change-feed retries); <1 in tests. */
  LOCAL_RETRY_SCALE: z.coerce.number().positive().max(1).default(1),
  /** How often the local topic looks for due deliveries, in milliseconds. */
  LOCAL_EVENTGRID_POLL_MS: z.coerce.number().int().min(5).max(60_000).default(250),
  /** Seconds a webhook may take to answer one delivery (Event Grid waits 30 s). */
  LOCAL_EVENTGRID_DELIVERY_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
  /** `system`: wall-clock time. `manual`: wall clock plus an offset moved by POST /runtime/webhooks/durabletask/local/clock/advance. */
  LOCAL_DURABLE_CLOCK: z.enum(['system', 'manual']).default('system'),
  /** Longest timer created as one timer, in seconds (the extension's `maximumShortTimerDuration`). */
  LOCAL_DURABLE_MAX_SHORT_TIMER_SECONDS: z.coerce
    .number()
    .int()
    .positive()
    .default(6 * 24 * 3600),
  /** Length of each piece of a longer timer, in seconds (the extension's `longRunningTimerIntervalDuration`). */
  LOCAL_DURABLE_LONG_TIMER_INTERVAL_SECONDS: z.coerce
    .number()
    .int()
    .positive()
    .default(3 * 24 * 3600),
  /**
   * The system key the durable webhooks require (`code`), at least 16 of `A-Z a-z 0-9 _ -`. Unset (or
   * empty): a random key for each run of the host.
   */
  LOCAL_DURABLE_KEY: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.string().regex(durableKeyPattern, 'at least 16 characters of A-Z, a-z, 0-9, _ and -').optional(),
  ),
});

export type LocalSettings = z.infer<typeof localSettingsSchema>;

/** @throws SettingsError naming each invalid setting */
export function readLocalSettings(env: NodeJS.ProcessEnv = process.env): LocalSettings {
  const s = parseSettings(localSettingsSchema, env);
  if (s.LOCAL_DURABLE_LONG_TIMER_INTERVAL_SECONDS > s.LOCAL_DURABLE_MAX_SHORT_TIMER_SECONDS) {
    throw new SettingsError(
      'invalid settings: LOCAL_DURABLE_LONG_TIMER_INTERVAL_SECONDS must not exceed LOCAL_DURABLE_MAX_SHORT_TIMER_SECONDS',
    );
  }
  return s;
}
