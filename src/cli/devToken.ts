import { parseArgs } from 'node:util';
import { devSignInKey, signDevToken } from '../adapters/devSignIn';
import { loadLocalSettings } from '../config/localSettingsFile';
import { authModeOf, readSettings } from '../config/settings';
import { appRoles } from '../shared/appRoles';

/**
 * `npm run token -- --sub <id> [--role orders.read] [--role orders.approve] [--name "Alice"] [--ttl 8h]`:
 * prints a development sign-in token (a JWT signed with `DATA_DIR/dev-signin.key`, created on first use) for
 * `Authorization: Bearer <token>` against the local host. Same settings as `npm start` (`local.settings.json`
 * Values under the environment), so the token is valid for the host on that data folder. Refused where the
 * development sign-in is off (`AUTH_MODE=appservice`, or on Azure).
 */

// Every app role the API checks (src/shared/appRoles.ts), so each row of the README's role table can be tried.
const roleNames: readonly string[] = appRoles;
const usage =
  'usage: npm run token -- --sub <id> [--role orders.read|orders.approve|orders.admin|orders.import]... [--name <name>] [--ttl 8h]\n' +
  '  a customer: --sub customer-42 (no role); an approver: --sub alice@example.com --role orders.approve;\n' +
  '  support: --sub bob@example.com --role orders.read';

/** `3600`, `90s`, `30m`, `8h`, `7d` → seconds. */
export function parseTtl(text: string): number {
  const m = /^(\d{1,7})([smhd]?)$/.exec(text.trim());
  if (!m) throw new Error(`--ttl ${text}: use seconds or 90s, 30m, 8h, 7d`);
  const seconds =
    Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  if (seconds < 1 || seconds > 30 * 86400) throw new Error(`--ttl ${text}: between 1 s and 30 days`);
  return seconds;
}

export async function main(
  argv: string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      sub: { type: 'string' },
      role: { type: 'string', multiple: true },
      name: { type: 'string' },
      ttl: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help || !values.sub) {
    console.error(usage);
    return values.help ? 0 : 2;
  }
  const roles = (values.role ?? [])
    .flatMap((r) => r.split(','))
    .map((r) => r.trim())
    .filter(Boolean);
  const unknown = roles.filter((r) => !roleNames.includes(r));
  if (unknown.length) {
    console.error(`unknown role ${unknown.join(', ')}; the roles are ${roleNames.join(', ')}`);
    return 2;
  }
  loadLocalSettings(process.cwd(), env);
  const settings = readSettings(env);
  if (authModeOf(settings) !== 'development') {
    console.error(
      'the development sign-in is off here (AUTH_MODE=appservice): sign in with Microsoft Entra ID',
    );
    return 1;
  }
  const token = await signDevToken(
    devSignInKey(settings.DATA_DIR),
    {
      sub: values.sub,
      roles,
      ...(values.name ? { name: values.name } : {}),
    },
    values.ttl ? parseTtl(values.ttl) : undefined,
  );
  process.stdout.write(token + '\n');
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exit(1);
    },
  );
}
