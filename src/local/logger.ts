import { isSpanContextValid, trace } from '@opentelemetry/api';
import { format } from 'node:util';

const levels = ['trace', 'debug', 'information', 'warning', 'error', 'critical', 'none'] as const;
export type Level = (typeof levels)[number];

/** The trace and span a log line belongs to (W3C hex ids). */
export interface Correlation {
  traceId: string;
  spanId: string;
}

/** The active span's ids (telemetry on, inside an invocation), or undefined. */
export function activeCorrelation(): Correlation | undefined {
  const sc = trace.getActiveSpan()?.spanContext();
  return sc && isSpanContextValid(sc) ? { traceId: sc.traceId, spanId: sc.spanId } : undefined;
}

/**
 * The host's log: one line per entry, `time level [source] message`, filtered by a minimum level. A line
 * written inside an invocation carries its trace and span id after the source (`trace_id=… span_id=…`): the
 * active span's when telemetry is on, else the invocation's trace context (an HTTP request's `traceparent`).
 */
/**
 * Removes the keys a line may carry, whatever wrote it (an error dump of the durable client's HTTP call holds
 * its URL): the `rpc/{key}/` segment of the durable webhooks' base URL, and `code=` query parameters (Functions
 * and durable system keys). The same rule as the request log's `loggable` (httpServer.ts).
 */
export function redactKeys(text: string): string {
  return text.replace(/\/rpc\/[^/\s'"]+/g, '/rpc/REDACTED').replace(/([?&]code=)[^&\s'"]+/gi, '$1REDACTED');
}

export class Logger {
  constructor(
    private readonly minimum: Level = 'information',
    private readonly write: (line: string) => void = (line) => process.stdout.write(line + '\n'),
  ) {}

  /** True when a line of `level` is written. */
  enabled(level: string): boolean {
    const rank = levels.indexOf(level as Level);
    return !(rank >= 0 && rank < levels.indexOf(this.minimum));
  }

  log(level: string, source: string, ...args: unknown[]): void {
    this.logCorrelated(level, source, undefined, ...args);
  }

  /** A line with the active span's ids, else `fallback`'s. */
  logCorrelated(level: string, source: string, fallback: Correlation | undefined, ...args: unknown[]): void {
    if (!this.enabled(level)) return;
    const ids = activeCorrelation() ?? fallback;
    const correlation = ids ? `trace_id=${ids.traceId} span_id=${ids.spanId} ` : '';
    this.write(
      `${new Date().toISOString()} ${level} [${source}] ${correlation}${redactKeys(format(...args))}`,
    );
  }

  debug(source: string, ...args: unknown[]): void {
    this.log('debug', source, ...args);
  }

  info(source: string, ...args: unknown[]): void {
    this.log('information', source, ...args);
  }

  warn(source: string, ...args: unknown[]): void {
    this.log('warning', source, ...args);
  }

  error(source: string, ...args: unknown[]): void {
    this.log('error', source, ...args);
  }
}
