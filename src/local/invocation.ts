import { InvocationContext, LogLevel, RetryContext } from '@azure/functions';
import { randomUUID } from 'node:crypto';
import { RegisteredFunction } from './functionsCore';
import { Logger } from './logger';

/**
 * Builds the InvocationContext the Azure Functions worker would pass: invocation id, function name, the
 * binding options (trigger, extra inputs and outputs), a log handler writing to the host's log and, for a
 * function with a retry policy, the retry context (`retryCount` 0 on the first run, up to `maxRetryCount`;
 * `exception`: the previous run's error), as the worker converts it from the host's request.
 */
export function createInvocationContext(
  fn: RegisteredFunction,
  logger: Logger,
  extra: { traceParent?: string; extraInputs?: Record<string, unknown>; retryContext?: RetryContext } = {},
): InvocationContext {
  const bindings = Object.entries(fn.metadata.bindings);
  const context = new InvocationContext({
    invocationId: randomUUID(),
    functionName: fn.metadata.name,
    traceContext: extra.traceParent ? { traceParent: extra.traceParent } : undefined,
    retryContext: extra.retryContext,
    logHandler: (level: LogLevel, ...args: unknown[]) => logger.log(level, fn.metadata.name, ...args),
    options: {
      // The option objects are the captured bindings, which is what the worker hands the library too.
      trigger: fn.trigger as unknown as InvocationContext['options']['trigger'],
      extraInputs: bindings
        .filter(([, b]) => b.direction === 'in' && b !== fn.trigger)
        .map(
          ([name, b]) => ({ ...b, name }) as unknown as InvocationContext['options']['extraInputs'][number],
        ),
      extraOutputs: bindings
        .filter(([key, b]) => b.direction === 'out' && key !== '$return')
        .map(
          ([name, b]) => ({ ...b, name }) as unknown as InvocationContext['options']['extraOutputs'][number],
        ),
    },
  });
  for (const [name, value] of Object.entries(extra.extraInputs ?? {})) context.extraInputs.set(name, value);
  return context;
}
