import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repository root (tests run from it). */
export const repoRoot = process.cwd();

/** The Bicep CLI version pinned in infra/tools/bicep-cli.csproj (the one place it is named). */
export function pinnedBicepVersion(): string {
  const project = readFileSync(join(repoRoot, 'infra/tools/bicep-cli.csproj'), 'utf8');
  const m = /Include="Azure\.Bicep\.CommandLine\.linux-x64" Version="\[([^\]]+)\]"/.exec(project);
  if (!m) throw new Error('infra/tools/bicep-cli.csproj does not pin Azure.Bicep.CommandLine.linux-x64');
  return m[1];
}

/**
 * Path of the pinned Bicep CLI in the NuGet cache (`NUGET_PACKAGES`, else ~/.nuget/packages), where
 * `dotnet restore infra/tools/bicep-cli.csproj` (run by .ci/run) puts it; undefined when it is not there.
 */
export function bicepPath(): string | undefined {
  const cache = process.env.NUGET_PACKAGES ?? join(homedir(), '.nuget', 'packages');
  const path = join(cache, 'azure.bicep.commandline.linux-x64', pinnedBicepVersion(), 'tools', 'bicep');
  return existsSync(path) ? path : undefined;
}

/** Why the Bicep checks are skipped, or undefined when the CLI is there. */
export const bicepMissing = (): string | undefined =>
  bicepPath()
    ? undefined
    : `the Bicep CLI ${pinnedBicepVersion()} is not in the NuGet cache: run dotnet restore infra/tools/bicep-cli.csproj`;

export interface BicepRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the pinned Bicep CLI from the repository root; resolves with its exit code and output, never throws on a non-zero code. */
export async function bicep(args: string[], cwd = repoRoot): Promise<BicepRun> {
  const path = bicepPath();
  if (!path) throw new Error(bicepMissing());
  try {
    const { stdout, stderr } = await run(path, args, { cwd, maxBuffer: 256 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/**
 * The deployment's fixed coordinates for `bicep snapshot` of a parameter file, as infra/tools/snapshot writes
 * them: no real subscription or tenant, always the same values; the resource-group deployment
 * (subscriptions.bicepparam) goes into the group main.bicep creates for the default environment.
 */
export function snapshotArgs(parameterFile: string): string[] {
  const args = [
    '--subscription-id',
    '00000000-0000-0000-0000-000000000000',
    '--tenant-id',
    '00000000-0000-0000-0000-000000000000',
    '--location',
    'westeurope',
  ];
  return parameterFile.endsWith('subscriptions.bicepparam')
    ? [...args, '--resource-group', 'rg-orders-dev']
    : args;
}
