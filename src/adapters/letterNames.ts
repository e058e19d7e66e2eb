/**
 * Names of dead letters in any store (a file name, a blob name): each part (channel, id) escaped so that any
 * channel and id map to a distinct, valid name and back. Keeps `A-Z a-z 0-9 _ - :` (so `order-1:3` stays
 * readable) and writes every other UTF-8 byte as `~` and two upper-case hex digits (`/` → `~2F`,
 * `.` → `~2E`, `ü` → `~C3~BC`, `~` → `~7E`): no `/`, `\`, `.` or `%` in an escaped part, so no path
 * traversal, no `.`/`..` segment, no trailing dot, and no two ids share a name ({@link decodePart} inverts it).
 */

const plain = /^[A-Za-z0-9_:-]$/;
const escaped = /^(?:[A-Za-z0-9_:-]|~[0-9A-F]{2})+$/;

/**
 * Escapes one part (a channel or an id) of a letter's name.
 * @throws RangeError for an empty string, or one that is not well-formed UTF-16 (a lone surrogate has no
 * UTF-8 form, so two such strings could otherwise share a name)
 */
export function encodePart(part: string, what: 'channel' | 'id'): string {
  if (part.length === 0) throw new RangeError(`dead-letter ${what} must not be empty`);
  const bytes = Buffer.from(part, 'utf8');
  if (bytes.toString('utf8') !== part) {
    throw new RangeError(`dead-letter ${what} is not well-formed Unicode: ${JSON.stringify(part)}`);
  }
  let out = '';
  for (const char of part) {
    if (plain.test(char)) {
      out += char;
      continue;
    }
    for (const byte of Buffer.from(char, 'utf8')) {
      out += '~' + byte.toString(16).toUpperCase().padStart(2, '0');
    }
  }
  return out;
}

/** Inverts {@link encodePart}; undefined for a string it cannot have produced (a blob someone else wrote). */
export function decodePart(part: string): string | undefined {
  if (!escaped.test(part)) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < part.length; i++) {
    if (part[i] === '~') {
      bytes.push(parseInt(part.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(part.charCodeAt(i));
    }
  }
  const text = Buffer.from(bytes).toString('utf8');
  // Not ours if it does not re-encode to the same name (bytes that are not UTF-8, a plain character escaped).
  return encodePart(text, 'id') === part ? text : undefined;
}
