import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { globSync } from 'tinyglobby';
import { Logger } from './logger';

/** The folder holding package.json, searched upwards from this file. */
export function appRoot(from = __dirname): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + from);
    dir = up;
  }
  return dir;
}

/** Loads the function files the way the Functions host does: package.json `main`, a file or glob. */
export function loadFunctionFiles(root: string): string[] {
  const main = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { main?: string }).main;
  if (!main) throw new Error('package.json has no "main" naming the function files');
  const files = globSync(main, { cwd: root, absolute: true }).sort();
  if (files.length === 0)
    throw new Error(`no file matches package.json "main" (${main}); run "npm run build"`);
  // The Functions host loads `main` with require too; these files are only known at run time.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  for (const file of files) require(resolve(file));
  return files;
}

/**
 * The app's `console` output becomes host log lines (source `worker`) at the matching level, as the Node.js
 * worker forwards it to the Functions host on Azure; `console.debug` is then filtered by LOG_LEVEL.
 */
export function forwardConsole(logger: Logger): void {
  console.debug = (...args: unknown[]) => logger.debug('worker', ...args);
  console.log = console.info = (...args: unknown[]) => logger.info('worker', ...args);
  console.warn = (...args: unknown[]) => logger.warn('worker', ...args);
  console.error = (...args: unknown[]) => logger.error('worker', ...args);
}
