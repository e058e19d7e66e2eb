import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/*
 * The direction of dependencies (docs/architecture.md, docs/adr/0009-layers.md): each folder of src/ may
 * import only the folders inside it. An import that points outward fails `npm run lint`.
 */
const folders = [
  'domain',
  'ports',
  'adapters',
  'app',
  'analytics',
  'config',
  'shared',
  'acceptance',
  'http',
  'composition',
  'handlers',
  'functions',
  'local',
  'telemetry',
  'import',
  'bench',
  'cli',
];
/** What each folder may import besides itself; every other folder of src/ is refused. */
const allowed = {
  domain: [],
  shared: [],
  config: [],
  ports: ['domain'],
  adapters: ['domain', 'ports'],
  app: ['domain', 'ports', 'shared', 'analytics'],
  analytics: ['domain', 'ports', 'shared'],
  acceptance: ['domain', 'ports', 'app', 'shared', 'http', 'composition'],
  http: ['domain', 'ports', 'app', 'analytics', 'shared', 'config', 'composition', 'acceptance'],
  composition: ['domain', 'ports', 'adapters', 'app', 'analytics', 'config', 'acceptance'],
  handlers: ['domain', 'ports', 'app', 'analytics', 'shared', 'http', 'composition', 'acceptance'],
  functions: ['http', 'handlers', 'acceptance', 'composition', 'config', 'adapters'],
  local: ['domain', 'ports', 'adapters', 'config', 'shared', 'telemetry'],
  telemetry: ['config', 'shared'],
  import: ['domain', 'ports', 'adapters', 'app', 'analytics', 'config', 'composition', 'shared'],
  bench: ['domain', 'ports', 'adapters', 'app', 'analytics', 'config', 'composition', 'import'],
  cli: ['domain', 'ports', 'adapters', 'app', 'analytics', 'config', 'composition', 'shared'],
};
/**
 * The OpenTelemetry SDK, its exporters and instrumentations: only src/telemetry sets them up
 * (docs/observability.md); every other folder uses `@opentelemetry/api` alone (a group of patterns, the `!` one
 * allowing the API). The domain knows nothing of telemetry at all.
 */
const telemetrySdk = [
  '@opentelemetry/*',
  '!@opentelemetry/api',
  '@azure/monitor-opentelemetry*',
  '@azure/functions-opentelemetry-instrumentation',
];
/** Packages a folder must not use: the domain and the ports know nothing of Azure or of a database. */
const forbiddenPackages = {
  domain: ['@azure/*', 'durable-functions', 'libsql', '@opentelemetry/*'],
  ports: ['@azure/*', 'durable-functions', 'libsql', '@opentelemetry/*'],
  app: ['@azure/*', 'durable-functions', 'libsql', telemetrySdk],
  analytics: ['@azure/*', 'durable-functions', 'libsql', '@duckdb/*', telemetrySdk],
  config: ['@azure/functions', 'durable-functions', 'libsql', '@azure/cosmos', telemetrySdk],
  ...Object.fromEntries(
    ['shared', 'adapters', 'composition', 'acceptance', 'http', 'handlers', 'functions', 'local'].map((f) => [
      f,
      [telemetrySdk],
    ]),
  ),
};

const layerRules = folders.map((folder) => ({
  files: [`src/${folder}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          ...folders
            .filter((other) => other !== folder && !allowed[folder].includes(other))
            .map((other) => ({
              // A module inside the folder, or the folder itself; not a file that shares the folder's name
              // elsewhere (src/functions may import src/handlers/analytics.ts, not src/analytics/).
              group: [`../**/${other}/**`, `../${other}`, `../../${other}`, `../../../${other}`],
              message: `src/${folder} must not import src/${other} (see docs/adr/0009-layers.md)`,
            })),
          ...(forbiddenPackages[folder] ?? []).map((pkg) => ({
            group: Array.isArray(pkg) ? pkg : [pkg],
            message: Array.isArray(pkg)
              ? `src/${folder} uses @opentelemetry/api only; the SDK is set up in src/telemetry (see docs/adr/0009-layers.md)`
              : `src/${folder} knows nothing of ${pkg} (see docs/adr/0009-layers.md)`,
          })),
        ],
      },
    ],
  },
}));

/** The dashboard's one way to the service is HTTP: web/ imports no module of src/ or dist/. */
const webOnlyHttp = {
  group: ['../../src', '../../src/**', '../../../src', '../../../src/**', '**/dist/**'],
  message: 'web/ talks to the service over HTTP only: no import from src/ or dist/',
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.data/**', 'bench-results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  ...layerRules,
  // The dashboard (issue 13): browser code that reaches the service over HTTP only. It imports nothing of src/
  // (nor of the build output), and nothing of Node.js but in its Vite config.
  {
    files: ['web/**/*.{ts,tsx,mts}'],
    rules: { 'no-restricted-imports': ['error', { patterns: [webOnlyHttp] }] },
  },
  {
    files: ['web/src/**/*.{ts,tsx}'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            webOnlyHttp,
            { group: ['node:*'], message: 'web/src runs in the browser: no Node.js module' },
          ],
        },
      ],
    },
  },
);
