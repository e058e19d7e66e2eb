import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * Builds dist/ once, so tests that start the local host run the code under test: the API (tsc) and the
 * dashboard the host serves at `/` (Vite, into dist/web). TEST_SKIP_BUILD=1 skips it when dist/ was just built.
 */
export default function setup(): void {
  if (process.env.TEST_SKIP_BUILD === '1') return;
  const root = process.cwd();
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], {
    cwd: root,
    stdio: 'inherit',
  });
  execFileSync(
    process.execPath,
    [join(root, 'node_modules/vite/bin/vite.js'), 'build', '-c', 'web/vite.config.mts', '--logLevel', 'warn'],
    { cwd: root, stdio: 'inherit' },
  );
}
