/**
 * Blob names of dead letters: `<channel>/<id>.json`, each part escaped so that any channel and id map to a
 * distinct, valid blob name and back.
 *
 * Azure Blob rules ("Naming and Referencing Containers, Blobs, and Metadata",
 * https://learn.microsoft.com/rest/api/storageservices/naming-and-referencing-containers--blobs--and-metadata):
 * a blob name is 1 to 1,024 characters, case-sensitive, of any characters except some that are invalid in a
 * URL path even when percent-encoded (control characters 0x00-0x1F, U+0081, non-characters like U+E000 or
 * U+FFFF); names and path segments should not end with a dot, `/` or `\`; without a hierarchical namespace a
 * name has at most 254 path segments (separated by `/`).
 *
 * The escaping keeps `A-Z a-z 0-9 _ - :` (so `order-1:3` stays readable in the portal) and writes every other
 * UTF-8 byte as `~` and two upper-case hex digits (`/` → `~2F`, `.` → `~2E`, `ü` → `~C3~BC`, `~` → `~7E`).
 * The escaping is src/adapters/letterNames.ts. Hence an escaped part contains no `/` (a name has exactly two segments, and a channel's prefix cannot
 * match another channel), no `.` (no `.`/`..` segment that a URL would collapse, no trailing dot), no `%`
 * (which @azure/storage-blob would pass through unescaped, reading it as an escape of its own) and no
 * character the service refuses. It is injective, so two ids never share a blob.
 */

import { decodePart, encodePart } from '../letterNames';

export { decodePart, encodePart };

/** The suffix of every letter's blob name. */
export const letterSuffix = '.json';

/** Longest blob name the service accepts (characters). */
export const maxBlobNameLength = 1024;

/**
 * The prefix of every blob name of a channel, `<escaped channel>/`.
 * @throws RangeError as {@link encodePart}
 */
export const channelPrefix = (channel: string): string => `${encodePart(channel, 'channel')}/`;

/**
 * The blob name of a letter, `<escaped channel>/<escaped id>.json`.
 * @throws RangeError as {@link encodePart}, or when the name exceeds {@link maxBlobNameLength} characters
 */
export function letterBlobName(channel: string, id: string): string {
  const name = `${channelPrefix(channel)}${encodePart(id, 'id')}${letterSuffix}`;
  if (name.length > maxBlobNameLength) {
    throw new RangeError(
      `dead-letter blob name is ${name.length} characters, over the ${maxBlobNameLength}-character limit of a blob name ` +
        `(channel ${JSON.stringify(channel)}, id of ${id.length} characters)`,
    );
  }
  return name;
}

/** The id of a letter from its blob name within a channel's prefix; undefined for a blob that is not a letter. */
export function idOfBlobName(prefix: string, name: string): string | undefined {
  if (!name.startsWith(prefix) || !name.endsWith(letterSuffix)) return undefined;
  return decodePart(name.slice(prefix.length, name.length - letterSuffix.length));
}
