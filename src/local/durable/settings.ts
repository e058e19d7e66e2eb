import { z } from 'zod';
import { parseSettings, SettingsError } from '../../app/settings';

/** What a system key may contain: it travels unencoded in query strings and paths. */
export const durableKeyPattern = /^[A-Za-z0-9_-]{16,}$/;

/**
 * Settings of the local durable runtime (the local host only; on Azure the Durable Functions extension
 * runs orchestrations). Defaults are the extension's on the Azure Storage backend for out-of-process
 * languages: timers up to 6 days are one timer, longer ones are chained 3-day timers.
 */
export const durableRuntimeSettingsSchema = z.object({
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

export type DurableRuntimeSettings = z.infer<typeof durableRuntimeSettingsSchema>;

/** @throws SettingsError naming each invalid setting */
export function readDurableRuntimeSettings(env: NodeJS.ProcessEnv = process.env): DurableRuntimeSettings {
  const s = parseSettings(durableRuntimeSettingsSchema, env);
  if (s.LOCAL_DURABLE_LONG_TIMER_INTERVAL_SECONDS > s.LOCAL_DURABLE_MAX_SHORT_TIMER_SECONDS) {
    throw new SettingsError(
      'invalid settings: LOCAL_DURABLE_LONG_TIMER_INTERVAL_SECONDS must not exceed LOCAL_DURABLE_MAX_SHORT_TIMER_SECONDS',
    );
  }
  return s;
}

/** A .NET TimeSpan string (`d.hh:mm:ss`), the format the extension sends and the library parses. */
export function timeSpan(seconds: number): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `${d}.${pad(h)}:${pad(m)}:${pad(s)}`;
}
