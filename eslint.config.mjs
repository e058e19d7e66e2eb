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
  'config',
  'shared',
  'acceptance',
  'http',
  'composition',
  'handlers',
  'functions',
  'local',
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
  app: ['domain', 'ports'],
  acceptance: ['domain', 'ports', 'app', 'shared', 'http', 'composition'],
  http: ['domain', 'ports', 'app', 'shared', 'config', 'composition', 'acceptance'],
  composition: ['domain', 'ports', 'adapters', 'app', 'config', 'acceptance'],
  handlers: ['domain', 'ports', 'app', 'shared', 'http', 'composition', 'acceptance'],
  functions: ['http', 'handlers', 'acceptance', 'composition', 'config', 'adapters'],
  local: ['domain', 'ports', 'adapters', 'config', 'shared'],
  import: ['domain', 'ports', 'adapters', 'app', 'config', 'composition'],
  bench: ['domain', 'ports', 'adapters', 'app', 'config', 'composition', 'import'],
  cli: ['domain', 'ports', 'adapters', 'app', 'config', 'composition'],
};
/** Packages a folder must not use: the domain and the ports know nothing of Azure or of a database. */
const forbiddenPackages = {
  domain: ['@azure/*', 'durable-functions', 'libsql'],
  ports: ['@azure/*', 'durable-functions', 'libsql'],
  app: ['@azure/*', 'durable-functions', 'libsql'],
  config: ['@azure/functions', 'durable-functions', 'libsql', '@azure/cosmos'],
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
              group: [`../**/${other}`, `../**/${other}/**`],
              message: `src/${folder} must not import src/${other} (see docs/adr/0009-layers.md)`,
            })),
          ...(forbiddenPackages[folder] ?? []).map((pkg) => ({
            group: [pkg],
            message: `src/${folder} knows nothing of ${pkg} (see docs/adr/0009-layers.md)`,
          })),
        ],
      },
    ],
  },
}));

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
);
