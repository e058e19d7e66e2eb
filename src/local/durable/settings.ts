/** A .NET TimeSpan string (`d.hh:mm:ss`), the format the extension sends and the library parses. */
export function timeSpan(seconds: number): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `${d}.${pad(h)}:${pad(m)}:${pad(s)}`;
}
