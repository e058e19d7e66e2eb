import { mkdir, readdir, readFile, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { DeadLetterRecord, DeadLetterStore } from '../../app/publishing';

const safe = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '_');

/**
 * Dead letters as JSON files, `<root>/<channel>/<id>.json`, written to a temporary name and renamed so a
 * crash never leaves half a file. The local stand-in for Event Grid's dead-letter blob container.
 */
export class FileDeadLetterStore implements DeadLetterStore {
  constructor(private readonly root: string) {}

  async put(channel: string, id: string, record: DeadLetterRecord): Promise<void> {
    const dir = join(this.root, safe(channel));
    await mkdir(dir, { recursive: true });
    const file = join(dir, `${safe(id)}.json`);
    await writeFile(file + '.tmp', JSON.stringify(record, null, 2));
    await rename(file + '.tmp', file);
  }

  async list(channel: string): Promise<DeadLetterRecord[]> {
    const dir = join(this.root, safe(channel));
    const names = await readdir(dir).catch(() => [] as string[]);
    const files = names.filter((n) => n.endsWith('.json')).sort();
    return Promise.all(
      files.map(async (n) => JSON.parse(await readFile(join(dir, n), 'utf8')) as DeadLetterRecord),
    );
  }
}
