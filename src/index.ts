// Telemetry first, before the rest of the app loads (src/telemetry/start.ts, docs/observability.md).
import { startTelemetryFromEnvironment, stopTelemetry } from './telemetry/start';
startTelemetryFromEnvironment();

import { app } from '@azure/functions';
import { ensureDevSignInKey } from './composition/devSignIn';
import { closeServices } from './composition/services';
import { authModeOf, readSettings } from './config/settings';

/*
 * App-level setup, loaded by the Functions host with the function files (package.json `main`): telemetry
 * starts above; the services are built on first use (src/composition/services.ts); when the worker stops, the
 * services are closed and the telemetry still buffered is exported.
 */
app.hook.appTerminate(async () => {
  await closeServices();
  await stopTelemetry();
});

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
