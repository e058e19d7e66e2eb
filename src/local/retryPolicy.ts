/**
 * A function's retry policy as the core API receives it (`retryOptions`: `retryStrategy` fixedDelay or
 * exponentialBackoff, `maxRetryCount` where -1 is unlimited, intervals as `{ seconds }`). The Functions host
 * documents these for the Cosmos DB trigger: without a policy a failed batch is skipped.
 * `scale` shortens every delay (tests).
 */
export interface RetryPolicy {
  maxRetryCount: number;
  delayMs(attempt: number): number;
}

type RpcDuration = { seconds?: number | string };
const ms = (d: unknown): number => Number((d as RpcDuration | undefined)?.seconds ?? 0) * 1000;

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
  return { maxRetryCount, delayMs: (attempt) => Math.min(max, min * 2 ** attempt) * scale };
}
