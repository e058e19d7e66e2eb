import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { globSync } from 'tinyglobby';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bicep, bicepMissing, repoRoot, snapshotArgs } from '../support/bicep';
import { allowedLintFindings } from './lintAllowlist';

/**
 * The Bicep checks of CI (docs/deploy.md): every template builds, formats with no diff, lints clean (but for
 * test/infra/lintAllowlist.ts), and the deployment snapshot equals the committed one. .ci/run restores the
 * pinned CLI and sets INFRA_CHECKS_REQUIRED, so there these checks can never be skipped.
 */
const missing = bicepMissing();
if (missing && process.env.INFRA_CHECKS_REQUIRED) throw new Error(missing);
if (missing) console.warn(`skipping the Bicep checks: ${missing}`);

const templates = globSync('infra/**/*.bicep', { cwd: repoRoot }).sort();
const parameterFiles = globSync('infra/**/*.bicepparam', { cwd: repoRoot }).sort();

interface SarifResult {
  ruleId: string;
  level?: string;
  message: { text: string };
  locations?: {
    physicalLocation?: { artifactLocation?: { uri?: string }; region?: { startLine?: number } };
  }[];
}

/** One lint finding: rule, file relative to the root, line, message. */
interface Finding {
  ruleId: string;
  file: string;
  line: number;
  message: string;
}

/**
 * Lints every template matching `pattern` in one run of the CLI (each start of the CLI costs seconds) and returns
 * the findings at level warning or error (SARIF `level`; a missing level is `warning`, SARIF 2.1.0 section
 * 3.27.10). With `--pattern` the CLI prints one SARIF document per file, one after the other.
 */
async function lint(pattern: string, cwd = repoRoot): Promise<Finding[]> {
  const r = await bicep(['lint', '--pattern', pattern, '--diagnostics-format', 'sarif'], cwd);
  const documents = r.stdout
    .split(/(?<=\})\s*(?=\{\s*"\$schema")/)
    .filter((d) => d.trim())
    .map((d) => JSON.parse(d) as { runs: { results: SarifResult[] }[] });
  expect(documents.length, r.stderr).toBeGreaterThan(0);
  return documents
    .flatMap((doc) => doc.runs.flatMap((run) => run.results))
    .filter((res) => (res.level ?? 'warning') !== 'note' && res.level !== 'none')
    .map((res) => {
      const loc = res.locations?.[0]?.physicalLocation;
      const uri = loc?.artifactLocation?.uri ?? '';
      const path = uri.startsWith('file://') ? new URL(uri).pathname : join(cwd, uri);
      return {
        ruleId: res.ruleId,
        file: relative(cwd, path),
        line: loc?.region?.startLine ?? 0,
        message: res.message.text,
      };
    });
}

const notAllowed = (findings: Finding[]) =>
  findings.filter((f) => !allowedLintFindings.some((a) => a.ruleId === f.ruleId && a.file === f.file));

/** A scratch copy of infra/ (config, generated declarations and all) to plant violations in. */
let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'infra-check-'));
  cpSync(join(repoRoot, 'infra'), join(scratch, 'infra'), {
    recursive: true,
    filter: (src) => !src.includes(`${join('infra', 'tools', 'obj')}`),
  });
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe.skipIf(missing !== undefined)('the Bicep templates', () => {
  it('include the deployment and its modules', () => {
    expect(templates).toContain('infra/main.bicep');
    expect(templates).toContain('infra/subscriptions.bicep');
    expect(templates.some((t) => t.startsWith('infra/modules/'))).toBe(true);
    expect(parameterFiles).toContain('infra/main.bicepparam');
  });

  it('build without errors', async () => {
    const r = await bicep(['build', '--pattern', 'infra/**/*.bicep', '--outdir', join(scratch, 'build')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/: Error /);
  });

  it('have parameter files that build', async () => {
    const r = await bicep([
      'build-params',
      '--pattern',
      'infra/*.bicepparam',
      '--outdir',
      join(scratch, 'build'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/: Error /);
  });

  it('are formatted as bicep format writes them', async () => {
    const copy = join(scratch, 'formatted');
    cpSync(join(repoRoot, 'infra'), copy, { recursive: true });
    const r = await bicep(['format', '--pattern', join(copy, '**/*.bicep*')]);
    expect(r.code, r.stderr).toBe(0);
    const changed = [...templates, ...parameterFiles].filter(
      (file) => readFileSync(join(copy, relative('infra', file)), 'utf8') !== readFileSync(file, 'utf8'),
    );
    expect(changed, 'run infra/tools/bicep format --pattern "infra/**/*.bicep*"').toEqual([]);
  });

  it('lint with no warning outside the allowlist', async () => {
    expect(notAllowed(await lint('infra/**/*.bicep'))).toEqual([]);
  });

  it('keep no allowlist entry that nothing needs', async () => {
    const findings = await lint('infra/**/*.bicep');
    const unused = allowedLintFindings.filter(
      (a) => !findings.some((f) => f.ruleId === a.ruleId && f.file === a.file),
    );
    expect(unused).toEqual([]);
  });

  it('produce the committed deployment snapshot', async () => {
    for (const file of parameterFiles) {
      const r = await bicep(['snapshot', file, '--mode', 'validate', ...snapshotArgs(file)]);
      expect(
        r.code,
        `${file}: ${r.stdout}${r.stderr}\nrun npm run infra:snapshot if the change is intended`,
      ).toBe(0);
    }
  });
});

describe.skipIf(missing !== undefined)('each Bicep check fails on a planted violation', () => {
  it('lint reports a property the resource type does not have', async () => {
    const file = join(scratch, 'infra', 'planted-unknown-property.bicep');
    writeFileSync(
      file,
      [
        "param location string = 'westeurope'",
        '',
        "resource st 'Microsoft.Storage/storageAccounts@2023-05-01' = {",
        "  name: 'stplanted'",
        '  location: location',
        "  kind: 'StorageV2'",
        "  sku: { name: 'Standard_LRS' }",
        '  properties: {',
        '    allowBlobPublicAccessTypo: false',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    const found = notAllowed(await lint(file, scratch));
    expect(found.every((f) => f.file === relative(scratch, file))).toBe(true);
    expect(found.map((f) => f.ruleId)).toContain('BCP037');
  });

  it('build fails on a template with an error, and build-params on a parameter the template lacks', async () => {
    const template = join(scratch, 'infra', 'planted-error.bicep');
    writeFileSync(template, 'param location string\n\noutput where string = locaton\n');
    const built = await bicep(['build', template, '--stdout'], scratch);
    expect(built.code).not.toBe(0);
    expect(built.stderr).toMatch(/BCP057/);
    const params = join(scratch, 'infra', 'planted.bicepparam');
    writeFileSync(params, "using 'main.bicep'\n\nparam notDeclared = 'x'\n");
    const builtParams = await bicep(['build-params', params, '--stdout'], scratch);
    expect(builtParams.code).not.toBe(0);
  });

  it('format notices a template that is not formatted', async () => {
    const file = join(scratch, 'infra', 'main.bicep');
    const original = readFileSync(file, 'utf8');
    // Indentation is what format always rewrites: two spaces per level.
    const misformatted = original.replace(/\n {2}(?=\S)/, '\n       ');
    writeFileSync(file, misformatted);
    const r = await bicep(['format', '--pattern', file], scratch);
    const formatted = readFileSync(file, 'utf8');
    writeFileSync(file, original);
    expect(r.code, r.stderr).toBe(0);
    expect(formatted).not.toBe(misformatted);
    expect(formatted).toBe(original);
  });

  it('the snapshot check notices a deployment that differs from the committed snapshot', async () => {
    const params = join(scratch, 'infra', 'main.bicepparam');
    const before = await bicep(['snapshot', params, '--mode', 'validate', ...snapshotArgs(params)], scratch);
    expect(before.code, before.stdout + before.stderr).toBe(0);
    const declaration = join(scratch, 'infra', 'generated', 'cosmos-containers.json');
    const original = readFileSync(declaration, 'utf8');
    writeFileSync(declaration, original.replace('"/orderId"', '"/customerId"'));
    const after = await bicep(['snapshot', params, '--mode', 'validate', ...snapshotArgs(params)], scratch);
    writeFileSync(declaration, original);
    expect(after.code).not.toBe(0);
  });
});
