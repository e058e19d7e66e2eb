import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { unzipSync } from 'fflate';
import { globSync } from 'tinyglobby';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPackage, compiledAppFiles, PackageError, PackageResult } from '../../src/cli/package';
import {
  AppLoadReport,
  azureAppSettings,
  loadAppInChild,
  ReportedBinding,
  ReportedFunction,
  repoRoot,
} from '../support/loadApp';

/**
 * Issue 8, point 6: `npm run package` (src/cli/package.ts) gives a zip the Functions host can run. The test
 * builds the package from dist/ (built by the test global setup) with the real `npm install --omit=dev` into a
 * staging folder, which takes a while (bounds in minutes, never an expectation of time), unpacks it, and loads
 * the unpacked app in a fresh process without libsql in its node_modules, as a package built on another
 * platform would be for this one.
 */

interface PackageJson {
  main: string;
  scripts?: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}
interface Lockfile {
  packages: Record<string, { dev?: boolean }>;
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;
const repoPackage = readJson<PackageJson>(join(repoRoot, 'package.json'));

/** Every installed package folder under `dir`/node_modules, as package-lock.json keys (`node_modules/a/node_modules/b`). */
function installedPackages(dir: string, prefix = ''): string[] {
  const nodeModules = join(dir, 'node_modules');
  if (!existsSync(nodeModules)) return [];
  const names = readdirSync(nodeModules)
    .filter((n) => !n.startsWith('.'))
    .flatMap((n) => (n.startsWith('@') ? readdirSync(join(nodeModules, n)).map((s) => `${n}/${s}`) : [n]));
  return names.flatMap((name) => {
    const key = `${prefix}node_modules/${name}`;
    return [key, ...installedPackages(join(nodeModules, name), `${key}/`)];
  });
}

/** A function's registration without the binding names, which @azure/functions draws at random. */
const comparable = (fn: ReportedFunction) => {
  const strip = ({ name: _name, ...binding }: ReportedBinding) => binding;
  return {
    ...fn,
    trigger: strip(fn.trigger),
    extraInputs: fn.extraInputs.map(strip),
    outputs: fn.outputs.map(strip),
  };
};

let work: string;
let unpacked: string;
let result: PackageResult;
let entries: string[];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'orders-package-test-'));
  result = await buildPackage({ root: repoRoot, output: join(work, 'order-service.zip') });
  unpacked = join(work, 'app');
  const files = unzipSync(readFileSync(result.zip));
  entries = Object.keys(files).sort();
  for (const [name, data] of Object.entries(files)) {
    if (name.endsWith('/')) continue;
    mkdirSync(dirname(join(unpacked, name)), { recursive: true });
    writeFileSync(join(unpacked, name), data);
  }
}, 900_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the deployable package (npm run package)', () => {
  it('has package.json at its root with `main` matching the function files inside, host.json, dist/ and node_modules/ only', () => {
    expect(entries).toHaveLength(result.files);
    expect(readdirSync(unpacked).sort()).toEqual(['dist', 'host.json', 'node_modules', 'package.json']);
    expect(readFileSync(join(unpacked, 'host.json'), 'utf8')).toBe(
      readFileSync(join(repoRoot, 'host.json'), 'utf8'),
    );

    const pkg = readJson<PackageJson>(join(unpacked, 'package.json'));
    expect(pkg.main).toBe(repoPackage.main);
    expect(pkg.dependencies).toEqual(repoPackage.dependencies);
    expect(pkg).not.toHaveProperty('devDependencies');
    expect(pkg).not.toHaveProperty('scripts');
    const functionFiles = globSync(pkg.main, { cwd: unpacked }).sort();
    expect(functionFiles).toEqual(result.functionFiles);
    expect(functionFiles).toContain('dist/src/index.js');
    expect(functionFiles.filter((f) => f.startsWith('dist/src/functions/'))).toHaveLength(
      readdirSync(join(repoRoot, 'src/functions')).filter((f) => f.endsWith('.ts')).length,
    );
  });

  it('holds the compiled JavaScript of the app and the built dashboard only: no TypeScript, source map, test, benchmark or local host', () => {
    const app = entries.filter((e) => !e.startsWith('node_modules/'));
    const dist = app.filter((e) => e.startsWith('dist/'));
    expect(app.filter((e) => !e.startsWith('dist/')).sort()).toEqual(['host.json', 'package.json']);
    expect(dist.filter((e) => !/^dist\/src\/.+\.js$/.test(e) && !e.startsWith('dist/web/'))).toEqual([]);
    // The dashboard, as `npm run build` wrote it: index.html and its bundled assets (no source maps).
    expect(dist).toContain('dist/web/index.html');
    expect(dist.filter((e) => e.startsWith('dist/web/') && e.endsWith('.map'))).toEqual([]);
    expect(entries.filter((e) => /(^|\/)test\//.test(e) && !e.startsWith('node_modules/'))).toEqual([]);
    expect(dist.filter((e) => /^dist\/src\/(bench|local)\//.test(e))).toEqual([]);
    expect(dist.filter((e) => e.startsWith('dist/src/')).sort()).toEqual(compiledAppFiles(repoRoot));
  });

  it('holds every production dependency and no devDependency, all at the versions of package-lock.json', () => {
    const installed = installedPackages(unpacked);
    for (const dep of Object.keys(repoPackage.dependencies))
      expect(installed).toContain(`node_modules/${dep}`);
    const lock = readJson<Lockfile>(join(repoRoot, 'package-lock.json'));
    // A devDependency that a production dependency also needs (`@types/node`, through the Azure Monitor
    // distro's instrumentations) is production in the lock file: it belongs in the package.
    const devOnly = (name: string) => lock.packages[`node_modules/${name}`]?.dev === true;
    for (const dev of [
      ...Object.keys(repoPackage.devDependencies),
      'vitest',
      'typescript',
      '@vercel/cosmosdb-server',
    ].filter(devOnly)) {
      expect(installed).not.toContain(`node_modules/${dev}`);
    }
    expect(installed.filter((key) => !(key in lock.packages))).toEqual([]);
    expect(installed.filter((key) => lock.packages[key].dev)).toEqual([]);
  });

  it('unpacked without libsql, registers every function the built app registers, and builds its services with neither libsql nor a request', async () => {
    rmSync(join(unpacked, 'node_modules/libsql'), { recursive: true, force: true });
    rmSync(join(unpacked, 'node_modules/@libsql'), { recursive: true, force: true });
    expect(installedPackages(unpacked).filter((p) => /libsql/.test(p))).toEqual([]);

    const [fromPackage, fromDist]: AppLoadReport[] = await Promise.all([
      loadAppInChild({ root: unpacked, settings: azureAppSettings, buildServices: true }),
      loadAppInChild({ root: repoRoot, settings: azureAppSettings, blockLibsql: true }),
    ]);
    expect(fromPackage.loadErrors).toEqual([]);
    expect(fromPackage.files).toEqual(result.functionFiles);
    expect(fromPackage.files).toEqual(fromDist.files);
    // 25 http (2 of them the page), 6 change feed, 2 Event Grid, the orchestration and 5 activities (the table
    // of registrations.spec.ts).
    expect(fromPackage.functions).toHaveLength(39);
    expect(fromPackage.functions.map(comparable)).toEqual(fromDist.functions.map(comparable));
    expect(fromPackage.hooks).toEqual({ appTerminate: 1, appStart: 1 });
    expect(fromPackage.libsql).toEqual({ requests: 0, requesters: [], loaded: [] });
    expect(fromPackage.services).toMatchObject({ ok: true, eventStore: 'cosmos' });
    expect(fromPackage.network).toEqual([]);
  });
});

describe('the compiled files a package takes', () => {
  it('are those of the current sources: outputs of deleted sources, the local host and benchmarks stay out', () => {
    const root = mkdtempSync(join(tmpdir(), 'orders-package-files-'));
    try {
      const touch = (path: string) => {
        mkdirSync(dirname(join(root, path)), { recursive: true });
        writeFileSync(join(root, path), '');
      };
      [
        'src/index.ts',
        'src/functions/a.ts',
        'src/local/host.ts',
        'src/bench/bench.ts',
        'src/cli/package.ts',
      ].forEach(touch);
      [
        'dist/src/index.js',
        'dist/src/functions/a.js',
        'dist/src/functions/a.js.map',
        'dist/src/functions/gone.js',
      ].forEach(touch);
      ['dist/src/local/host.js', 'dist/src/bench/bench.js', 'dist/src/cli/package.js'].forEach(touch);
      expect(compiledAppFiles(root)).toEqual(['dist/src/functions/a.js', 'dist/src/index.js']);

      touch('src/functions/new.ts');
      expect(() => compiledAppFiles(root)).toThrow(PackageError);
      expect(() => compiledAppFiles(root)).toThrow(
        /dist\/src\/functions\/new\.js: run "npm run build" first/,
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
