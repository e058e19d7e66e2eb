import { ESLint } from 'eslint';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The direction of dependencies is enforced by ESLint (eslint.config.mjs, docs/adr/0009-layers.md): these
 * cases lint one import line as if it were in a file of the named folder, so a rule that stops working, or
 * a folder that loses its rule, fails here as well as in `npm run lint`.
 */
const eslint = new ESLint({ cwd: resolve(__dirname, '../..') });

async function restricted(file: string, importLine: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${importLine}\nexport const probe = 1;\n`, {
    filePath: resolve(__dirname, '../..', file),
  });
  return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('the layers of src/, as ESLint enforces them', () => {
  it.each([
    ['src/domain/probe.ts', "import '../app/orderService';", 'src/domain must not import src/app'],
    ['src/domain/probe.ts', "import '@azure/cosmos';", 'src/domain knows nothing of @azure/*'],
    ['src/ports/probe.ts', "import '../adapters/sqlite/database';", 'src/ports must not import src/adapters'],
    [
      'src/adapters/sqlite/probe.ts',
      "import '../../app/orderService';",
      'src/adapters must not import src/app',
    ],
    [
      'src/adapters/cosmos/probe.ts',
      "import '../../config/settings';",
      'src/adapters must not import src/config',
    ],
    ['src/app/probe.ts', "import '../adapters/cosmos/connection';", 'src/app must not import src/adapters'],
    ['src/app/probe.ts', "import 'durable-functions';", 'src/app knows nothing of durable-functions'],
    ['src/composition/probe.ts', "import '../http/endpoint';", 'src/composition must not import src/http'],
    ['src/http/probe.ts', "import '../local/logger';", 'src/http must not import src/local'],
    ['src/functions/probe.ts', "import '../local/host';", 'src/functions must not import src/local'],
    ['src/local/probe.ts', "import '../composition/services';", 'src/local must not import src/composition'],
    ['src/local/probe.ts', "import '../http/endpoint';", 'src/local must not import src/http'],
    [
      'src/handlers/probe.ts',
      "import '../functions/shared/changeFeedTrigger';",
      'src/handlers must not import src/functions',
    ],
    [
      'src/functions/probe.ts',
      "import '../analytics/funnel/funnel';",
      'src/functions must not import src/analytics',
    ],
    [
      'src/functions/shared/probe.ts',
      "import '../../analytics';",
      'src/functions must not import src/analytics',
    ],
    [
      'src/analytics/funnel/probe.ts',
      "import '../../adapters/ocel/sqliteOcelWriter';",
      'src/analytics must not import src/adapters',
    ],
  ])('refuses in %s: %s', async (file, line, message) => {
    expect((await restricted(file, line)).join('\n')).toContain(message);
  });

  it.each([
    ['src/ports/probe.ts', "import '../domain/events';"],
    ['src/adapters/sqlite/probe.ts', "import '../../ports/eventStore';"],
    ['src/app/probe.ts', "import '../ports/eventStore';"],
    ['src/composition/probe.ts', "import '../adapters/sqlite/database';"],
    ['src/functions/probe.ts', "import '../handlers/orders';"],
    // A file named like a folder is not that folder.
    ['src/functions/probe.ts', "import '../handlers/analytics';"],
    ['src/local/probe.ts', "import '../adapters/sqlite/database';"],
  ])('allows in %s: %s', async (file, line) => {
    expect(await restricted(file, line)).toEqual([]);
  });
});
