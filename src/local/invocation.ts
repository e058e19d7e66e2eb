import { InvocationContext, LogLevel, RetryContext } from '@azure/functions';
import { randomUUID } from 'node:crypto';
import { format } from 'node:util';
import { RegisteredFunction } from './functionsCore';
import { Logger } from './logger';

/**
 * Builds the InvocationContext the Azure Functions worker would pass: invocation id, function name, the
 * trace context (the host's span: `traceParent`), the binding options (trigger, extra inputs and outputs), a
 * log handler running the `log` hooks and writing to the host's log (with the trace and span id) and, for a
 * function with a retry policy, the retry context (`retryCount` 0 on the first run, up to `maxRetryCount`;
 * `exception`: the previous run's error), as the worker converts it from the host's request.
 */
export function createInvocationContext(
  fn: RegisteredFunction,
  logger: Logger,
  extra: { traceParent?: string; extraInputs?: Record<string, unknown>; retryContext?: RetryContext } = {},
): InvocationContext {
  const bindings = Object.entries(fn.metadata.bindings);
  // Without telemetry there is no active span; a log line then names the invocation's trace context.
  const ids = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/.exec(extra.traceParent ?? '');
  const fallback = ids ? { traceId: ids[1], spanId: ids[2] } : undefined;
  const context: InvocationContext = new InvocationContext({
    invocationId: randomUUID(),
    functionName: fn.metadata.name,
    traceContext: extra.traceParent ? { traceParent: extra.traceParent } : undefined,
    retryContext: extra.retryContext,
    // As the worker does: the `log` hooks (the OpenTelemetry instrumentation sends the record as an
    // OpenTelemetry log, with the active span's ids), then the host's log.
    logHandler: (level: LogLevel, ...args: unknown[]) => {
      if (fn.logHooks && logger.enabled(level)) fn.logHooks(level, format(...args), context);
      logger.logCorrelated(level, fn.metadata.name, fallback, ...args);
    },
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
