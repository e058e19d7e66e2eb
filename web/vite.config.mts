import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The dashboard (issue 13): a static page built into dist/web, which the function app serves under `/`
 * (hash routes, so only `/` and the asset paths exist). Relative asset URLs (`base: './'`), so the same build
 * works wherever the function serves it. JSX through esbuild (Preact's automatic runtime), no Babel.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  publicDir: false,
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // The page is a few views; ECharts and dagre go to chunks of their own, loaded by the views that draw.
    chunkSizeWarningLimit: 600,
    reportCompressedSize: true,
  },
  server: {
    // `npx vite -c web/vite.config.mts` beside `npm start` (port 7071) proxies the API and the local routes;
    // writes (sign-in, approval) need the dev server's origin in the host's CORS_ALLOWED_ORIGINS.
    proxy: Object.fromEntries(['/api', '/.auth', '/eventgrid'].map((p) => [p, 'http://127.0.0.1:7071'])),
  },
});
