import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DeadLetterRecord, DeadLetterStore } from '../../ports/deadLetters';
import { decodePart, encodePart } from '../letterNames';

/**
 * Dead letters as JSON files, `<root>/<channel>/<id>.json`, channel and id escaped so that no two share a
 * file and none leaves the root (src/adapters/letterNames.ts). The local stand-in for the dead-letter blob
 * container.
 *
 * A letter is written to `<id>.json.tmp`, flushed to disk (`fsync`), then renamed: a crash or a power cut
 * leaves either no letter or the whole letter under the final name, never an empty or partial one
 * (rename is atomic on POSIX file systems, but without the flush the new name can reach the disk before
 * the data). Readers take complete `.json` files only; {@link list} is the one way to read them.
 */
export class FileDeadLetterStore implements DeadLetterStore {
  constructor(private readonly root: string) {}

  async put(channel: string, id: string, record: DeadLetterRecord): Promise<void> {
    const dir = join(this.root, encodePart(channel, 'channel'));
    await mkdir(dir, { recursive: true });
    const file = join(dir, `${encodePart(id, 'id')}.json`);
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

  async delete(channel: string, id: string): Promise<void> {
    await rm(join(this.root, encodePart(channel, 'channel'), `${encodePart(id, 'id')}.json`), {
      force: true,
    });
  }

  /** Every complete letter of a channel (`.json` files only, never one being written), ordered by id. */
  async list(channel: string): Promise<DeadLetterRecord[]> {
    const dir = join(this.root, encodePart(channel, 'channel'));
    const names = await readdir(dir).catch(() => [] as string[]);
    const letters = names
      .filter((n) => n.endsWith('.json'))
      .map((file) => ({ file, id: decodePart(file.slice(0, -'.json'.length)) }))
      .filter((l): l is { file: string; id: string } => l.id !== undefined)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return Promise.all(
      letters.map(async (l) => JSON.parse(await readFile(join(dir, l.file), 'utf8')) as DeadLetterRecord),
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
