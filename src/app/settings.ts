import { z } from 'zod';

/**
 * Application settings, read from the environment (on Azure: app settings; locally: `local.settings.json`
 * `Values` plus the environment, environment winning). Validated once; a bad value stops start-up with
 * a message naming the setting.
 */
export const settingsSchema = z.object({
  DATA_DIR: z.string().min(1).default('./.data'),
  EVENT_STORE: z.enum(['sqlite']).default('sqlite'),
  PORT: z.coerce.number().int().min(0).max(65535).default(7071),
  /** Poll interval of the local change feed, in milliseconds. */
  LOCAL_CHANGE_FEED_POLL_MS: z.coerce.number().int().min(5).max(60_000).default(200),
});

export type Settings = z.infer<typeof settingsSchema>;

export class SettingsError extends Error {}

/** @throws SettingsError naming each invalid setting */
export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const parsed = settingsSchema.safeParse(env);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new SettingsError(`invalid settings: ${detail}`);
  }
  return parsed.data;
}
