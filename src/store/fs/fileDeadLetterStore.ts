import { mkdir, open, readdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { DeadLetterRecord, DeadLetterStore } from '../../app/publishing';

const safe = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '_');

/**
 * Dead letters as JSON files, `<root>/<channel>/<id>.json`. The local stand-in for Event Grid's
 * dead-letter blob container.
 *
 * A letter is written to `<id>.json.tmp`, flushed to disk (`fsync`), then renamed: a crash or a power cut
 * leaves either no letter or the whole letter under the final name, never an empty or partial one
 * (rename is atomic on POSIX file systems, but without the flush the new name can reach the disk before
 * the data). Readers take complete `.json` files only; {@link list} is the one way to read them.
 */
export class FileDeadLetterStore implements DeadLetterStore {
  constructor(private readonly root: string) {}

  async put(channel: string, id: string, record: DeadLetterRecord): Promise<void> {
    const dir = join(this.root, safe(channel));
    await mkdir(dir, { recursive: true });
    const file = join(dir, `${safe(id)}.json`);
    const handle = await open(file + '.tmp', 'w');
    try {
      await handle.writeFile(JSON.stringify(record, null, 2));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(file + '.tmp', file);
    await syncDirectory(dir);
  }

  /** Every complete letter of a channel, by file name; an absent channel has none. */
  async list(channel: string): Promise<DeadLetterRecord[]> {
    const dir = join(this.root, safe(channel));
    const names = await readdir(dir).catch(() => [] as string[]);
    const files = names.filter((n) => n.endsWith('.json')).sort();
    return Promise.all(
      files.map(async (n) => JSON.parse(await readFile(join(dir, n), 'utf8')) as DeadLetterRecord),
    );
  }
}

/** Flushes a directory's entries so a rename survives a power cut; a no-op where directories cannot be opened (Windows). */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => undefined);
  if (!handle) return;
  try {
    await handle.sync().catch(() => undefined);
  } finally {
    await handle.close();
  }
}
