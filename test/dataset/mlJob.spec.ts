import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/**
 * ml/purchase-job.yml against the Azure ML command job schema's rules that matter here
 * (https://azuremlschemas.azureedge.net/latest/commandJob.schema.json, reference:
 * https://learn.microsoft.com/azure/machine-learning/reference-yaml-job-command) and against ml/train.py:
 * every `${{inputs.x}}` / `${{outputs.x}}` of the command is declared, every flag the command passes is an
 * argparse option of train.py and every required option is passed. The job cannot run here (no Azure, no PyPI).
 */
const mlDir = path.resolve(__dirname, '../../ml');
const jobFile = path.join(mlDir, 'purchase-job.yml');
const job = parse(readFileSync(jobFile, 'utf8')) as Record<string, unknown> & {
  command: string;
  code: string;
  inputs: Record<string, unknown>;
  outputs: Record<string, { type?: string }>;
  environment: { conda_file: string; image: string };
};
const trainPy = readFileSync(path.join(mlDir, 'train.py'), 'utf8');

const python = (() => {
  const r = spawnSync('python3', ['--version']);
  return r.status === 0 ? 'python3' : undefined;
})();
if (!python) console.warn('skipping the train.py compile check: python3 is not on this machine');

describe('Azure ML command job ml/purchase-job.yml', () => {
  it('names the command job schema and is a command job', () => {
    expect(job.$schema).toBe('https://azuremlschemas.azureedge.net/latest/commandJob.schema.json');
    expect(job.type).toBe('command');
  });

  it('takes the training set as an mltable input and gives every data input and output a known type', () => {
    const data = job.inputs.training_data as { type: string; path: string };
    expect(data.type).toBe('mltable');
    expect(data.path).toMatch(/^azureml:[a-z0-9-]+@latest$/);
    const dataTypes = ['mltable', 'uri_file', 'uri_folder', 'mlflow_model', 'custom_model'];
    for (const [name, value] of Object.entries(job.inputs)) {
      if (typeof value === 'object' && value !== null) {
        expect(dataTypes, `input ${name}`).toContain((value as { type: string }).type);
      } else {
        expect(['string', 'number', 'boolean'], `input ${name}`).toContain(typeof value);
      }
    }
    for (const [name, value] of Object.entries(job.outputs)) {
      expect(dataTypes, `output ${name}`).toContain(value.type);
    }
  });

  it('declares every ${{inputs.x}} and ${{outputs.x}} the command names, and uses every input', () => {
    const refs = [...job.command.matchAll(/\$\{\{\s*(inputs|outputs)\.([A-Za-z0-9_]+)\s*\}\}/g)];
    expect(refs.length).toBeGreaterThan(0);
    for (const [, kind, name] of refs) {
      const declared = kind === 'inputs' ? job.inputs : job.outputs;
      expect(Object.keys(declared), `${kind}.${name}`).toContain(name);
    }
    const usedInputs = new Set(refs.filter((r) => r[1] === 'inputs').map((r) => r[2]));
    expect([...usedInputs].sort()).toEqual(Object.keys(job.inputs).sort());
    // no other ${{...}} expression hides in the command
    expect(job.command.match(/\$\{\{/g)?.length).toBe(refs.length);
  });

  it('points at a code folder that holds train.py and an environment file that exists', () => {
    const code = path.resolve(mlDir, job.code);
    expect(existsSync(path.join(code, 'train.py'))).toBe(true);
    expect(job.command).toMatch(/^python train\.py\b/);
    const conda = path.resolve(mlDir, job.environment.conda_file);
    expect(existsSync(conda)).toBe(true);
    const env = parse(readFileSync(conda, 'utf8')) as { dependencies: (string | { pip: string[] })[] };
    const pip = env.dependencies.flatMap((d) => (typeof d === 'object' ? d.pip : []));
    for (const pkg of ['scikit-learn', 'pandas', 'mltable']) {
      expect(pip.some((p) => p.startsWith(pkg))).toBe(true);
    }
    expect(job.environment.image).toMatch(/^mcr\.microsoft\.com\/azureml\//);
  });

  it("passes exactly train.py's argparse options, every required one included", () => {
    const options = [...trainPy.matchAll(/add_argument\(\s*"(--[a-z-]+)"([^)]*)\)/g)].map((m) => ({
      flag: m[1],
      required: /required=True/.test(m[2]),
    }));
    expect(options.length).toBeGreaterThan(0);
    const passed = [...job.command.matchAll(/(?:^|\s)(--[a-z][a-z-]*)/g)].map((m) => m[1]);
    expect([...passed].sort()).toEqual(options.map((o) => o.flag).sort());
    for (const o of options.filter((x) => x.required)) expect(passed).toContain(o.flag);
  });

  it('runs on serverless compute with the identity of who submits it (the datastore stores no key)', () => {
    expect(job.compute).toBeUndefined();
    expect(job.resources).toMatchObject({ instance_count: 1 });
    expect(job.identity).toEqual({ type: 'user_identity' });
  });

  it.skipIf(!python)('has a train.py that compiles (python3 -m py_compile)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pycompile-'));
    try {
      const cfile = path.join(dir, 'train.pyc');
      execFileSync(python!, [
        '-c',
        'import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)',
        path.join(mlDir, 'train.py'),
        cfile,
      ]);
      expect(existsSync(cfile)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
