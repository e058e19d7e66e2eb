import { z } from 'zod';
import { parseSettings, perProduct } from './settings';

const positiveMs = z.coerce.number().int().positive();
const optionalPositiveMs = z.preprocess((v) => (v === '' ? undefined : v), positiveMs.optional());

/**
 * Settings of the order-acceptance orchestration and of the stock it reserves, read from the environment
 * (app settings on Azure; `local.settings.json` `Values` locally). Read by activities only, never by the
 * orchestrator: the orchestrator gets them through the validate activity's result, which its history keeps,
 * so a changed setting cannot change a replay.
 */
export const acceptanceSettingsSchema = z.object({
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
  RESERVATION_RETRY_TIMEOUT_MS: optionalPositiveMs,
  /**
   * Task hub of Durable Functions (host.json `extensions.durableTask.hubName` reads it as
   * `%DURABLE_TASK_HUB%`). Azure Storage rules: 3-45 letters or digits, starting with a letter.
   */
  DURABLE_TASK_HUB: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9]{2,44}$/, 'must be 3-45 letters or digits, starting with a letter')
    .default('OrderAcceptanceHub'),
  /** Available stock per product, e.g. `{"sku-1": 10}` (the same setting the stock check reads); unlisted products are unlimited. */
  STOCK_LEVELS: perProduct('{"sku-1": 10}'),
  /**
   * Simulated outages of the stock service, for tests and demos: `{"sku-1": 2}` makes the first two
   * reservation attempts of `sku-1` in each order fail with a transient error, the third succeed.
   */
  STOCK_RESERVATION_FAILURES: perProduct('{"sku-1": 2}'),
});

export type AcceptanceSettings = z.infer<typeof acceptanceSettingsSchema>;

/** @throws SettingsError naming each invalid setting */
export function readAcceptanceSettings(env: NodeJS.ProcessEnv = process.env): AcceptanceSettings {
  return parseSettings(acceptanceSettingsSchema, env);
}
