import { execFile } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  createWriteStream,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import { Zip, ZipDeflate } from 'fflate';
import { globSync } from 'tinyglobby';

/**
 * `npm run package`: the deployable zip of the Function App, in the layout the Functions host expects:
 * package.json at the root (its `main` naming the function files inside), host.json, the compiled app under
 * dist/src, and the production dependencies in node_modules. Nothing else: no TypeScript, no source maps, no
 * tests, no benchmarks, no devDependency, no local host (src/local stands in for the Functions host, which
 * Azure provides), and no stale output of a source file since deleted or renamed (the `main` glob would
 * register it). The dependencies are installed for this machine's platform; libsql's native binary, for the
 * embedded store only, is never loaded with EVENT_STORE=cosmos, so a package built elsewhere runs on Azure.
 */

/** Where `npm run package` writes the zip, relative to the repository root (dist/ is ignored by git). */
export const defaultPackagePath = 'dist/package/order-service.zip';

/**
 * Sources whose compiled files stay out of the package, relative to src/: the benchmarks, the local host,
 * and this packager (it needs the devDependency fflate).
 */
export const excludedSources = ['bench/', 'local/', 'cli/package.ts'];

/** What to package, and where. */
export interface PackageOptions {
  /** The repository root: package.json, package-lock.json, host.json, and dist/ as `npm run build` leaves it. */
  root: string;
  /** The zip to write; default {@link defaultPackagePath} under `root`. */
  output?: string;
  /** Progress lines; default none. */
  log?: (line: string) => void;
}

/** The package written. */
export interface PackageResult {
  /** Absolute path of the zip. */
  zip: string;
  /** Files in it. */
  files: number;
  /** Size of the zip, in bytes. */
  bytes: number;
  /** Size of its files unpacked, in bytes. */
  unpackedBytes: number;
  /** The files package.json `main` matches in the package, relative to its root. */
  functionFiles: string[];
}

/** The packaging cannot proceed; the message says why and what to do. */
export class PackageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PackageError';
  }
}

interface PackageJson {
  main?: string;
  scripts?: Record<string, string>;
  devDependencies?: Record<string, string>;
  [field: string]: unknown;
}

const toPosix = (path: string): string => path.split(sep).join('/');

function listFiles(dir: string, into: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) listFiles(path, into);
    else into.push(path);
  }
  return into;
}

/**
 * The compiled files of the app, relative to the root (`dist/src/...js`): one per TypeScript source under
 * src/ that is not in {@link excludedSources}, so an output whose source is gone is left out.
 * @throws PackageError when a source has no compiled file (dist/ is missing or older than the sources)
 */
export function compiledAppFiles(root: string): string[] {
  const sources = listFiles(join(root, 'src'))
    .map((f) => toPosix(relative(join(root, 'src'), f)))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .filter((f) => !excludedSources.some((x) => (x.endsWith('/') ? f.startsWith(x) : f === x)));
  const compiled = sources.map((f) => `dist/src/${f.replace(/\.ts$/, '.js')}`).sort();
  const missing = compiled.filter((f) => !existsSync(join(root, f)));
  if (missing.length > 0) {
    throw new PackageError(
      `no compiled file for ${missing.length} source(s), e.g. ${missing[0]}: run "npm run build" first`,
    );
  }
  return compiled;
}

/** The package.json of the package: the project's, without its scripts and devDependencies. */
export function productionPackageJson(pkg: PackageJson): PackageJson {
  const { scripts: _scripts, devDependencies: _dev, ...production } = pkg;
  return production;
}

/**
 * Installs the production dependencies into `dir`, which holds copies of package.json and package-lock.json:
 * the versions of the lockfile, no devDependency, no install script, from npm's cache when it has them.
 */
export async function installProductionDependencies(dir: string): Promise<void> {
  const args = [
    'install',
    '--omit=dev',
    '--ignore-scripts',
    '--no-audit',
    '--no-fund',
    '--prefer-offline',
    '--no-save',
  ];
  const windows = process.platform === 'win32';
  try {
    await promisify(execFile)(windows ? 'npm.cmd' : 'npm', args, {
      cwd: dir,
      shell: windows,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr ?? String(err);
    throw new PackageError(`npm ${args.join(' ')} failed in ${dir}:\n${detail}`);
  }
}

/** One file of the zip: its name in the zip and where its bytes are. */
interface ZipEntry {
  name: string;
  path: string;
}

/** Every entry time is this one, so the same files give the same zip. */
const entryTime = new Date('2000-01-01T00:00:00Z');
/** Entries of a zip without the ZIP64 extension, which fflate does not write. */
const maxEntries = 65_535;

/**
 * Writes `entries` to a zip at `output` with fflate, file by file, waiting for the disk when it lags, and
 * keeping each file's Unix permissions.
 */
export async function writeZip(entries: ZipEntry[], output: string): Promise<void> {
  if (entries.length > maxEntries) {
    throw new PackageError(`${entries.length} files: more than a zip without ZIP64 holds (${maxEntries})`);
  }
  const out = createWriteStream(output);
  let failure: Error | undefined;
  out.on('error', (err) => (failure ??= err));
  const closed = once(out, 'close');
  const zip = new Zip((err, chunk, final) => {
    if (err) failure ??= err;
    else out.write(chunk);
    if (final || err) out.end();
  });
  for (const entry of entries) {
    if (failure) break;
    const file = new ZipDeflate(entry.name, { level: 6 });
    file.mtime = entryTime;
    file.os = 3; // Unix, so `attrs` carries the permissions
    file.attrs = ((0o100000 | (statSync(entry.path).mode & 0o777)) << 16) >>> 0;
    zip.add(file);
    file.push(readFileSync(entry.path), true);
    if (out.writableNeedDrain) await once(out, 'drain');
  }
  zip.end();
  await closed;
  if (failure) throw failure;
}

/**
 * Builds the package: a staging folder with package.json and package-lock.json, where the production
 * dependencies are installed; the compiled app, the built dashboard (dist/web) and host.json copied beside them; package.json replaced by
 * {@link productionPackageJson}; then the zip of it all (symbolic links, i.e. node_modules/.bin, left out).
 * The zip is written next to `output` and renamed, so a failed run never leaves a partial package there.
 * @throws PackageError when dist/ is missing or stale, `main` matches nothing, or npm fails
 */
export async function buildPackage(options: PackageOptions): Promise<PackageResult> {
  const root = resolve(options.root);
  const output = resolve(root, options.output ?? defaultPackagePath);
  const log = options.log ?? (() => {});
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson;
  if (!pkg.main) throw new PackageError('package.json has no "main" naming the function files');
  const appFiles = compiledAppFiles(root);

  const staging = mkdtempSync(join(tmpdir(), 'order-service-package-'));
  try {
    for (const file of ['package.json', 'package-lock.json'])
      copyFileSync(join(root, file), join(staging, file));
    log(`installing production dependencies in ${staging}`);
    await installProductionDependencies(staging);
    rmSync(join(staging, 'package-lock.json'));
    writeFileSync(join(staging, 'package.json'), JSON.stringify(productionPackageJson(pkg), null, 2) + '\n');
    copyFileSync(join(root, 'host.json'), join(staging, 'host.json'));
    for (const file of appFiles) {
      mkdirSync(dirname(join(staging, file)), { recursive: true });
      copyFileSync(join(root, file), join(staging, file));
    }
    const page = join(root, 'dist', 'web');
    if (!existsSync(join(page, 'index.html'))) {
      throw new PackageError('dist/web/index.html is missing (the dashboard): run "npm run build" first');
    }
    cpSync(page, join(staging, 'dist', 'web'), { recursive: true });
    const functionFiles = globSync(pkg.main, { cwd: staging }).map(toPosix).sort();
    if (functionFiles.length === 0) {
      throw new PackageError(`package.json "main" (${pkg.main}) matches no file of the package`);
    }

    const entries: ZipEntry[] = [];
    let skippedLinks = 0;
    const walk = (dir: string) => {
      for (const name of readdirSync(dir).sort()) {
        const path = join(dir, name);
        const stat = lstatSync(path);
        if (stat.isSymbolicLink()) skippedLinks++;
        else if (stat.isDirectory()) walk(path);
        else if (stat.isFile()) entries.push({ name: toPosix(relative(staging, path)), path });
      }
    };
    walk(staging);
    const unpackedBytes = entries.reduce((sum, e) => sum + statSync(e.path).size, 0);
    log(`zipping ${entries.length} files (${skippedLinks} symbolic links left out)`);

    mkdirSync(dirname(output), { recursive: true });
    const partial = `${output}.partial`;
    try {
      await writeZip(entries, partial);
      renameSync(partial, output);
    } finally {
      rmSync(partial, { force: true });
    }
    return { zip: output, files: entries.length, bytes: statSync(output).size, unpackedBytes, functionFiles };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

async function main(args: string[]): Promise<void> {
  const at = args.indexOf('--output');
  const output = at >= 0 ? args[at + 1] : undefined;
  if (at >= 0 && !output) throw new PackageError('--output needs a path');
  const root = resolve(__dirname, '../../..');
  const result = await buildPackage({ root, output, log: (line) => process.stdout.write(line + '\n') });
  const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
  process.stdout.write(
    `${relative(process.cwd(), result.zip) || result.zip}: ${result.files} files, ${mb(result.bytes)} MB ` +
      `(${mb(result.unpackedBytes)} MB unpacked), ${result.functionFiles.length} function files\n`,
  );
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    const message = err instanceof PackageError ? err.message : String((err as Error)?.stack ?? err);
    process.stderr.write(`package failed: ${message}\n`);
    process.exit(1);
  });
}
