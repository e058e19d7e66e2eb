/**
 * Conversion of wall-clock timestamps without a zone ("2017-10-15 00:30:00") to ISO 8601 UTC.
 *
 * The offset comes from the runtime's time-zone database via `Intl.DateTimeFormat`, so historical rules
 * apply: Brazil (America/Sao_Paulo) observed daylight saving time until 2019 (UTC-2 in the southern
 * summer, UTC-3 otherwise), and a fixed "-03:00" would put summer timestamps an hour off.
 *
 * Local times that do not exist or exist twice are resolved as Temporal's `disambiguation: 'compatible'`
 * does: a time in the spring-forward gap is moved forward by the length of the gap (00:30 on the night
 * the clocks jump from 00:00 to 01:00 becomes 01:30 DST); a time in the repeated hour of the fall-back
 * takes the earlier of its two instants (the one still in DST).
 */

const LOCAL = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$/;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

const hourMs = 3_600_000;
/** Offsets by zone and UTC hour, for hours in which the offset does not change. */
const hourOffsets = new Map<string, Map<number, number>>();

/**
 * Offset of `timeZone` from UTC at the instant `utcMs`, in milliseconds (negative west of Greenwich).
 * Remembered per UTC hour when the offset is the same at the hour's first and last second: a zone changes its
 * offset at most once in any hour (transitions are months apart), so it then holds for the whole hour. The
 * formatter costs about 10 µs a call, the largest cost of planning an import without this (CPU profile).
 */
export function zoneOffsetMs(timeZone: string, utcMs: number): number {
  let hours = hourOffsets.get(timeZone);
  if (!hours) hourOffsets.set(timeZone, (hours = new Map()));
  const hour = Math.floor(utcMs / hourMs);
  const known = hours.get(hour);
  if (known !== undefined) return known;
  const first = formattedOffsetMs(timeZone, hour * hourMs);
  if (first !== formattedOffsetMs(timeZone, hour * hourMs + hourMs - 1000)) {
    return formattedOffsetMs(timeZone, utcMs);
  }
  hours.set(hour, first);
  return first;
}

function formattedOffsetMs(timeZone: string, utcMs: number): number {
  const parts: Record<string, number> = {};
  for (const p of formatterFor(timeZone).formatToParts(new Date(utcMs))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  const wall = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
  // The formatter drops milliseconds; compare at whole seconds.
  return wall - Math.floor(utcMs / 1000) * 1000;
}

export class LocalTimeFormatError extends Error {}

/**
 * Converts `YYYY-MM-DD HH:MM:SS` wall-clock time in `timeZone` to ISO 8601 UTC ("...Z").
 * @throws LocalTimeFormatError when the text is not such a timestamp or names an impossible date
 */
export function localToUtcIso(local: string, timeZone: string): string {
  const m = LOCAL.exec(local);
  if (!m) throw new LocalTimeFormatError(`"${local}" is not a timestamp such as "2017-10-02 10:56:33"`);
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number);
  const wall = Date.UTC(y, mo - 1, d, h, mi, s);
  const check = new Date(wall);
  if (check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) {
    throw new LocalTimeFormatError(`"${local}" is not a valid date and time`);
  }
  // The offsets in force a day before and a day after; those consistent with the reading are its instants:
  // two in a repeated hour (the earlier, larger offset wins), none in a gap (the smaller, pre-transition
  // offset moves the time forward by the gap). Works on either side of Greenwich.
  const around = [zoneOffsetMs(timeZone, wall - 86_400_000), zoneOffsetMs(timeZone, wall + 86_400_000)];
  const valid = around.filter((o) => zoneOffsetMs(timeZone, wall - o) === o);
  const utc = wall - (valid.length ? Math.max(...valid) : Math.min(...around));
  return new Date(utc).toISOString();
}

/** The Olist source's zone: Brazil local time (São Paulo), with its historical DST rules. */
export const olistTimeZone = 'America/Sao_Paulo';

/** Olist timestamp (Brazil local time, no zone) to ISO 8601 UTC. */
export const olistTimeToUtc = (local: string): string => localToUtcIso(local, olistTimeZone);
