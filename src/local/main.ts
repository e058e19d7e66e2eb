/**
 * Entry of the local host (`npm start`). The functions core is installed before anything loads
 * `@azure/functions`, which looks it up once; the host itself is loaded only after that
 * (docs/adr/0006-same-function-code-locally.md).
 */
import { FunctionsCore, installFunctionsCore } from './functionsCore';

const core = new FunctionsCore();
installFunctionsCore(core);

// eslint-disable-next-line @typescript-eslint/no-require-imports -- must load after the core is installed
const { startHost } = require('./host') as typeof import('./host');
startHost(core).catch((err: unknown) => {
  process.stderr.write(`host failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
