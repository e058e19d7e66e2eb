import { format } from 'node:util';

const levels = ['trace', 'debug', 'information', 'warning', 'error', 'critical', 'none'] as const;
export type Level = (typeof levels)[number];

/** The host's log: one line per entry, `time level [source] message`, filtered by a minimum level. */
export class Logger {
  constructor(
    private readonly minimum: Level = 'information',
    private readonly write: (line: string) => void = (line) => process.stdout.write(line + '\n'),
  ) {}

  log(level: string, source: string, ...args: unknown[]): void {
    const rank = levels.indexOf(level as Level);
    if (rank >= 0 && rank < levels.indexOf(this.minimum)) return;
    this.write(`${new Date().toISOString()} ${level} [${source}] ${format(...args)}`);
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
