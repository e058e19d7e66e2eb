import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { LakeFileInfo, LakeLockTimeoutError, LakeTarget } from '../../ports/eventLake';

export interface FolderLakeTargetOptions {
  /** How long {@link FolderLakeTarget.withLock} waits for the lock, in ms. Default 10 minutes. */
  lockWaitMs?: number;
  /** A lock file older than this is taken over (its holder crashed), in ms. Default 10 minutes. */
  staleLockMs?: number;
}

const isMissing = (err: unknown) => (err as NodeJS.ErrnoException)?.code === 'ENOENT';

/**
 * The event lake in a local folder (`DATA_DIR/lake` by default). A file is written to `<path>.<random>.tmp`,
 * flushed (`fsync`) and renamed, so a reader or a crash sees the old or the whole new file, never part of one
 * (rename is atomic on POSIX file systems); temporary files end in `.tmp`, which readers' `*.parquet` globs skip.
 *
 * The roll lock is the file `_lake/lock`, created exclusively (`O_CREAT|O_EXCL`, flag `wx`); a lock file older
 * than `staleLockMs` is taken as left by a crashed holder and removed. Paths are checked to stay under the root.
 */
export class FolderLakeTarget implements LakeTarget {
  private readonly lockWaitMs: number;
  private readonly staleLockMs: number;

  constructor(
    private readonly root: string,
    options: FolderLakeTargetOptions = {},
  ) {
    this.lockWaitMs = options.lockWaitMs ?? 600_000;
    this.staleLockMs = options.staleLockMs ?? 600_000;
  }

  get location(): string {
    return this.root;
  }

  /** @throws RangeError for a path that would leave the root */
  private file(path: string): string {
    const file = join(this.root, ...path.split('/'));
    const rel = relative(this.root, file);
    if (!path || rel.startsWith('..') || rel.split(sep).includes('..')) {
      throw new RangeError(`lake path ${JSON.stringify(path)} leaves the lake folder`);
    }
    return file;
  }

  async write(path: string, bytes: Uint8Array): Promise<void> {
    const file = this.file(path);
    await mkdir(dirname(file), { recursive: true });
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  }

  async read(path: string): Promise<Uint8Array | undefined> {
    try {
      return await readFile(this.file(path));
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async list(prefix: string): Promise<LakeFileInfo[]> {
    const out: LakeFileInfo[] = [];
    // Walk from the deepest folder the prefix names, then filter by the whole prefix.
    const folder = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const walk = async (dir: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch((err: unknown) => {
        if (isMissing(err)) return [];
        throw err;
      });
      for (const entry of entries) {
        const full = join(dir, entry.name);
        if (entry.isDirectory()) await walk(full);
        else if (entry.isFile() && !entry.name.endsWith('.tmp')) {
          const path = relative(this.root, full).split(sep).join('/');
          if (!path.startsWith(prefix)) continue;
          const s = await stat(full).catch(() => undefined);
          if (s) out.push({ path, bytes: s.size, modifiedAt: s.mtimeMs });
        }
      }
    };
    await walk(folder ? this.file(folder) : this.root);
    return out;
  }

  async delete(path: string): Promise<void> {
    await rm(this.file(path), { force: true });
  }

  async withLock<T>(work: () => Promise<T>): Promise<T> {
    const lock = this.file('_lake/lock');
    await mkdir(dirname(lock), { recursive: true });
    const deadline = Date.now() + this.lockWaitMs;
    let delay = 20;
    for (;;) {
      try {
        const handle = await open(lock, 'wx');
        await handle.writeFile(JSON.stringify({ pid: process.pid, at: new Date().toISOString() }));
        await handle.close();
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException)?.code !== 'EEXIST') throw err;
        const s = await stat(lock).catch(() => undefined);
        if (s && Date.now() - s.mtimeMs > this.staleLockMs) {
          await rm(lock, { force: true });
          continue;
        }
        if (Date.now() > deadline) {
          throw new LakeLockTimeoutError(`the lake lock ${lock} was held for over ${this.lockWaitMs} ms`);
        }
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 1000);
      }
    }
    try {
      return await work();
    } finally {
      await rm(lock, { force: true });
    }
  }
}
