/**
 * A function's retry policy as the core API receives it (`retryOptions`: `retryStrategy` fixedDelay or
 * exponentialBackoff, `maxRetryCount` where -1 is unlimited, intervals as `{ seconds }`). The Functions host
 * documents these for the Cosmos DB trigger: without a policy a failed batch is skipped, and so is a batch
 * whose last retry failed (learn.microsoft.com/azure/azure-functions/functions-bindings-error-pages).
 * `scale` shortens every delay (tests).
 */
export interface RetryPolicy {
  /** Retries after the first run; -1: unlimited. */
  maxRetryCount: number;
  /** Milliseconds to wait before retry `attempt + 1` (`attempt` 0: before the first retry). */
  delayMs(attempt: number): number;
}

type RpcDuration = { seconds?: number | string };
const ms = (d: unknown): number => Number((d as RpcDuration | undefined)?.seconds ?? 0) * 1000;

/**
 * The policy of `retryOptions`, with the Functions host's delays: fixedDelay waits `delayInterval` every time;
 * exponentialBackoff waits `minimumInterval` before the first retry, then `minimumInterval` plus
 * `minimumInterval` × 2^(n−1) before retry n + 1, at most `maximumInterval` (azure-webjobs-sdk
 * `RandomizedExponentialBackoffStrategy`, here without its ±20 % jitter): 1, 2, 3, 5, 9, 17 … s from 1 s.
 */
export function retryPolicyOf(
  options: Record<string, unknown> | undefined,
  scale = 1,
): RetryPolicy | undefined {
  if (!options) return undefined;
  const maxRetryCount = Number(options.maxRetryCount ?? 0);
  if (options.retryStrategy === 'fixedDelay') {
    const delay = ms(options.delayInterval);
    return { maxRetryCount, delayMs: () => delay * scale };
  }
  const min = ms(options.minimumInterval);
  const max = ms(options.maximumInterval) || min;
  return {
    maxRetryCount,
    delayMs: (attempt) => Math.min(max, attempt === 0 ? min : min + min * 2 ** (attempt - 1)) * scale,
  };
}
