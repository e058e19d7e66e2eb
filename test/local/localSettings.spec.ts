import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSettings, SettingsError } from '../../src/config/settings';
import { loadLocalSettings } from '../../src/config/localSettingsFile';
import { readLocalSettings } from '../../src/local/settings';

describe('settings', () => {
  it('takes local.settings.json Values, the environment winning', () => {
    const dir = mkdtempSync(join(tmpdir(), 'settings-'));
    writeFileSync(
      join(dir, 'local.settings.json'),
      JSON.stringify({ IsEncrypted: false, Values: { PORT: 8080, DATA_DIR: './x' } }),
    );
    const env: NodeJS.ProcessEnv = { DATA_DIR: '/from/env' };
    expect(loadLocalSettings(dir, env)).toEqual(['PORT']);
    expect(readSettings(env)).toMatchObject({ DATA_DIR: '/from/env', EVENT_STORE: 'sqlite' });
    expect(readLocalSettings(env)).toMatchObject({ PORT: 8080 });
  });

  it('names the file when it is not valid', () => {
    const dir = mkdtempSync(join(tmpdir(), 'settings-'));
    writeFileSync(join(dir, 'local.settings.json'), '{ nope');
    expect(() => loadLocalSettings(dir, {})).toThrow(/local\.settings\.json/);
  });

  it('names an invalid setting', () => {
    expect(() => readLocalSettings({ PORT: 'eighty' })).toThrow(SettingsError);
    expect(() => readLocalSettings({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => readSettings({ EVENT_STORE: 'files' })).toThrow(/EVENT_STORE/);
  });
});
