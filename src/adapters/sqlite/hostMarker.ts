import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What a running local host leaves in its DATA_DIR: `host.json`, `{ pid, port, startedAt }`. */
export interface HostMarker {
  pid: number;
  port: number;
  startedAt: string;
}

const markerPath = (dataDir: string) => join(dataDir, 'host.json');

/** Records that a host serves this DATA_DIR; returns the function that removes the record. */
export function writeHostMarker(dataDir: string, port: number): () => void {
  const file = markerPath(dataDir);
  const marker: HostMarker = { pid: process.pid, port, startedAt: new Date().toISOString() };
  writeFileSync(file, JSON.stringify(marker));
  return () => rmSync(file, { force: true });
}

/** The host running on this DATA_DIR, if any (a marker whose process is alive). */
export function runningHost(dataDir: string): HostMarker | undefined {
  const file = markerPath(dataDir);
  if (!existsSync(file)) return undefined;
  try {
    const marker = JSON.parse(readFileSync(file, 'utf8')) as HostMarker;
    process.kill(marker.pid, 0);
    return marker;
  } catch {
    return undefined; // unreadable, or the process is gone (a crash left the marker behind)
  }
}
