import { app } from '@azure/functions';
import { ensureDevSignInKey } from './composition/devSignIn';
import { closeServices } from './composition/services';
import { authModeOf, readSettings } from './config/settings';

/*
 * App-level setup, loaded by the Functions host before the function files (package.json `main`):
 * the services are built on first use (src/composition/services.ts) and closed when the worker stops.
 */
app.hook.appTerminate(() => closeServices());

/*
 * With the development sign-in (local only: settings refuse it on Azure), make sure the data folder has its
 * key and tell a person how to get a token.
 */
app.hook.appStart(() => {
  let settings;
  try {
    settings = readSettings();
  } catch {
    return; // reported by the first request that builds the services
  }
  if (authModeOf(settings) !== 'development') return;
  const keyFile = ensureDevSignInKey(settings.DATA_DIR);
  console.log(
    `sign-in (development, key ${keyFile}): get a token with ` +
      '`npm run token -- --sub customer-42` (a customer), add `--role orders.read`, `--role orders.approve` or ' +
      '`--role orders.admin` for staff; send it as `Authorization: Bearer <token>` (see README, "Who may do what")',
  );
});
