import { z } from 'zod';
import { parseSettings, SettingsError } from '../../app/settings';

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
