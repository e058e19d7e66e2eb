import { ESLint } from 'eslint';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSettings } from '../../src/config/settings';
import { telemetryModeOf } from '../../src/telemetry/start';

const root = resolve(__dirname, '../..');

/**
 * Starts telemetry in a fresh Node process with `env` as the app settings, as src/index.ts does, and reports
 * the mode, what it logged, and which telemetry SDK modules the process loaded.
 */
function startInChild(env: Record<string, string>): { mode: string; errors: string[]; loaded: string[] } {
  const program = String.raw`
    const { readSettings } = require('./dist/src/config/settings.js');
    const { startTelemetry, stopTelemetry } = require('./dist/src/telemetry/start.js');
    const errors = [];
    const mode = startTelemetry(readSettings(process.env), { error: (m) => errors.push(m) });
    const loaded = [...new Set(Object.keys(require.cache)
      .map((f) => /node_modules\/(@opentelemetry\/sdk-[a-z-]+|@azure\/monitor-opentelemetry)\//.exec(f)?.[1])
      .filter(Boolean))].sort();
    stopTelemetry().then(() => {
      process.stdout.write(JSON.stringify({ mode, errors, loaded }));
      process.exit(0);
    });
  `;
  const out = execFileSync(process.execPath, ['-e', program], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', DATA_DIR: tmpdir(), ...env },
    encoding: 'utf8',
  });
  return JSON.parse(out) as { mode: string; errors: string[]; loaded: string[] };
}

describe('which telemetry the settings start', () => {
  it('chooses Application Insights over OTLP, and nothing without either', () => {
    const base = { DATA_DIR: '/tmp/x' };
    expect(telemetryModeOf(readSettings(base))).toBe('off');
    expect(
      telemetryModeOf(readSettings({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318' })),
    ).toBe('otlp');
    expect(
      telemetryModeOf(
        readSettings({
          ...base,
          OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318',
          APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=11111111-2222-3333-4444-555555555555',
        }),
      ),
    ).toBe('azure-monitor');
  });

  it('refuses an OTLP endpoint that is not an http(s) URL, naming the setting', () => {
    expect(() => readSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'localhost:4318' })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT/,
    );
  });

  it('loads no SDK module when telemetry is off, so it costs nothing', () => {
    expect(startInChild({})).toEqual({ mode: 'off', errors: [], loaded: [] });
  });

  it('loads the OpenTelemetry SDK, not the Azure Monitor distro, for an OTLP endpoint', () => {
    const r = startInChild({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' });
    expect(r.mode).toBe('otlp');
    expect(r.errors).toEqual([]);
    expect(r.loaded).toContain('@opentelemetry/sdk-node');
    expect(r.loaded).not.toContain('@azure/monitor-opentelemetry');
  });

  it('logs a connection string it cannot use and runs on without telemetry, never throwing', () => {
    const r = startInChild({ APPLICATIONINSIGHTS_CONNECTION_STRING: 'not-a-connection-string' });
    expect(r.mode).toBe('off');
    expect(r.errors).toEqual([expect.stringMatching(/^telemetry \(azure-monitor\) could not start/)]);
  });
});

describe('the telemetry SDK stays in src/telemetry, as ESLint enforces it', () => {
  const eslint = new ESLint({ cwd: root });
  const restricted = async (file: string, line: string) => {
    const [result] = await eslint.lintText(`${line}\nexport const probe = 1;\n`, {
      filePath: resolve(root, file),
    });
    return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
  };

  it.each([
    ['src/app/probe.ts', "import '@opentelemetry/sdk-node';", 'src/app uses @opentelemetry/api only'],
    [
      'src/handlers/probe.ts',
      "import '@azure/monitor-opentelemetry';",
      'src/handlers uses @opentelemetry/api only',
    ],
    [
      'src/local/probe.ts',
      "import '@opentelemetry/sdk-trace-base';",
      'src/local uses @opentelemetry/api only',
    ],
    ['src/domain/probe.ts', "import '@opentelemetry/api';", 'src/domain knows nothing of @opentelemetry/*'],
    ['src/http/probe.ts', "import '../telemetry/start';", 'src/http must not import src/telemetry'],
    ['src/telemetry/probe.ts', "import '../app/tracing';", 'src/telemetry must not import src/app'],
  ])('refuses in %s: %s', async (file, line, message) => {
    expect((await restricted(file, line)).join('\n')).toContain(message);
  });

  it.each([
    ['src/app/probe.ts', "import '@opentelemetry/api';"],
    ['src/local/probe.ts', "import '../telemetry/start';"],
    ['src/telemetry/probe.ts', "import '@azure/monitor-opentelemetry';"],
  ])('allows in %s: %s', async (file, line) => {
    expect(await restricted(file, line)).toEqual([]);
  });
});
