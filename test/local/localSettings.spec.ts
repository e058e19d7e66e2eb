import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSettings, SettingsError } from '../../src/app/settings';
import { loadLocalSettings } from '../../src/local/localSettings';

describe('settings', () => {
  it('takes local.settings.json Values, the environment winning', () => {
    const dir = mkdtempSync(join(tmpdir(), 'settings-'));
    writeFileSync(
      join(dir, 'local.settings.json'),
      JSON.stringify({ IsEncrypted: false, Values: { PORT: 8080, DATA_DIR: './x' } }),
    );
    const env: NodeJS.ProcessEnv = { DATA_DIR: '/from/env' };
    expect(loadLocalSettings(dir, env)).toEqual(['PORT']);
    expect(readSettings(env)).toMatchObject({ PORT: 8080, DATA_DIR: '/from/env', EVENT_STORE: 'sqlite' });
  });

  it('names the file when it is not valid', () => {
    const dir = mkdtempSync(join(tmpdir(), 'settings-'));
    writeFileSync(join(dir, 'local.settings.json'), '{ nope');
    expect(() => loadLocalSettings(dir, {})).toThrow(/local\.settings\.json/);
  });

  it('names an invalid setting', () => {
    expect(() => readSettings({ PORT: 'eighty' })).toThrow(SettingsError);
    expect(() => readSettings({ PORT: 'eighty' })).toThrow(/PORT/);
  });
});
