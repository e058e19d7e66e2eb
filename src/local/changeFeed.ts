import type { RetryContext } from '@azure/functions';
import { EventStore } from '../ports/eventStore';
import { RegisteredFunction } from './functionsCore';
import { createInvocationContext } from './invocation';
import { Logger } from './logger';
import { retryPolicyOf } from './retryPolicy';

export interface ChangeFeedOptions {
  pollMs: number;
  /** Multiplies retry delays; 1 in production, smaller in tests. */
  retryScale?: number;
}

/** An error as the retry context's `exception` (the shape the worker gives: message, stack trace, source). */
function exceptionOf(err: unknown): RetryContext['exception'] {
  return err instanceof Error
    ? { message: err.message, ...(err.stack ? { stackTrace: err.stack } : {}), source: err.name }
    : { message: String(err) };
}

/** Waits `ms`, or less when aborted or woken; `wake` is replaced on every call. */
function sleeper() {
  let wake = () => {};
  const sleep = (ms: number, signal: AbortSignal) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      wake = done;
    });
  return { sleep, wake: () => wake() };
}

/**
 * Feeds one captured cosmosDB-trigger function from the embedded store's global feed, as the Cosmos DB
 * trigger does from the change feed: batches of at most `maxItemsPerInvocation` commit documents, a lease
 * (checkpoint) named by `leaseContainerPrefix` + function name that moves only after the handler returned.
 * A failure is retried per the function's `retry` policy; without one the batch is skipped, as on Azure.
 */
export class LocalChangeFeed {
  private readonly abort = new AbortController();
  private readonly idle = sleeper();
  private woken = false;
  private loop?: Promise<void>;
  readonly lease: string;

  constructor(
    private readonly fn: RegisteredFunction,
    private readonly store: EventStore,
    private readonly logger: Logger,
    private readonly options: ChangeFeedOptions,
  ) {
    this.lease = `${(fn.trigger.leaseContainerPrefix as string | undefined) ?? ''}${fn.metadata.name}`;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /**
   * Looks for new commits now instead of at the next poll: the host calls it when this process appended.
   * Appends by another process (an import) are still found by polling.
   */
  wake(): void {
    this.woken = true;
    this.idle.wake();
  }

  /** Stops after the batch in flight (if any) has finished and been checkpointed. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    const batchSize = Number(this.fn.trigger.maxItemsPerInvocation ?? 100);
    const retry = retryPolicyOf(this.fn.metadata.retryOptions, this.options.retryScale);
    // This host holds the lease alone, so the checkpoint is read once and then kept in memory.
    let position: string | undefined;
    let positionRead = false;
    while (!signal.aborted) {
      try {
        if (!positionRead) {
          position = await this.store.getCheckpoint(this.lease);
          positionRead = true;
        }
        this.woken = false;
        const page = await this.store.readFeed(position, batchSize);
        if (page.commits.length === 0) {
          if (!this.woken) await this.idle.sleep(this.options.pollMs, signal);
          continue;
        }
        if (await this.deliver(page.commits, retry, signal)) {
          await this.store.setCheckpoint(this.lease, page.position);
          position = page.position;
        }
      } catch (err) {
        this.logger.error(this.fn.metadata.name, 'change feed read failed', err);
        await this.idle.sleep(this.options.pollMs * 10, signal);
      }
    }
  }

  /**
   * True when the batch may be checkpointed: delivered, or given up on as the trigger would. Each run gets
   * the retry context the Functions host passes when the function has a retry policy (`retryCount` = runs
   * before this one, `maxRetryCount`, the previous run's exception), so a handler can tell its last run.
   */
  private async deliver(
    documents: unknown[],
    retry: ReturnType<typeof retryPolicyOf>,
    signal: AbortSignal,
  ): Promise<boolean> {
    let previous: unknown;
    for (let attempt = 0; ; attempt++) {
      const context = createInvocationContext(this.fn, this.logger, {
        retryContext: retry
          ? {
              retryCount: attempt,
              maxRetryCount: retry.maxRetryCount,
              ...(previous === undefined ? {} : { exception: exceptionOf(previous) }),
            }
          : undefined,
      });
      try {
        await this.fn.callback(documents, context);
        return true;
      } catch (err) {
        previous = err;
        const canRetry = retry && (retry.maxRetryCount < 0 || attempt < retry.maxRetryCount);
        this.logger.error(
          this.fn.metadata.name,
          `batch of ${documents.length} failed (attempt ${attempt + 1})`,
          err,
        );
        if (!canRetry) {
          this.logger.warn(
            this.fn.metadata.name,
            'no retries left: the batch is skipped, as the Cosmos DB trigger does',
          );
          return true;
        }
        await sleeper().sleep(retry.delayMs(attempt), signal);
        if (signal.aborted) return false;
      }
    }
  }
}
