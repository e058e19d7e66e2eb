import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runningHost, writeHostMarker } from '../../src/adapters/sqlite/hostMarker';

describe('the marker a running host leaves in DATA_DIR', () => {
  it('names a live host, and is gone once removed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'marker-'));
    const remove = writeHostMarker(dir, 7071);
    expect(runningHost(dir)).toMatchObject({ pid: process.pid, port: 7071 });
    remove();
    expect(runningHost(dir)).toBeUndefined();
  });

  it('ignores a marker left by a process that died', () => {
    const dir = mkdtempSync(join(tmpdir(), 'marker-'));
    writeFileSync(join(dir, 'host.json'), JSON.stringify({ pid: 2 ** 22 + 17, port: 7071, startedAt: '' }));
    expect(runningHost(dir)).toBeUndefined();
  });
});
