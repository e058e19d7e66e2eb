import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

const localSettingsFile = z.object({
  IsEncrypted: z.boolean().optional(),
  Values: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
});

/**
 * Copies `Values` of `local.settings.json` (the Azure Functions local development file) into the
 * environment, without overriding variables already set: the environment wins, as with Core Tools.
 * @returns the names of the settings taken from the file
 * @throws Error naming the file when it is not valid JSON of that shape
 */
export function loadLocalSettings(root: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const file = join(root, 'local.settings.json');
  if (!existsSync(file)) return [];
  let parsed;
  try {
    parsed = localSettingsFile.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch (err) {
    throw new Error(`${file} is not a valid local.settings.json: ${(err as Error).message}`, { cause: err });
  }
  const taken: string[] = [];
  for (const [name, value] of Object.entries(parsed.Values ?? {})) {
    if (env[name] === undefined) {
      env[name] = String(value);
      taken.push(name);
    }
  }
  return taken;
}
