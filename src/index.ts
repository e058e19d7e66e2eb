import { app } from '@azure/functions';
import { closeServices } from './composition/services';

/*
 * App-level setup, loaded by the Functions host before the function files (package.json `main`):
 * the services are built on first use (src/composition/services.ts) and closed when the worker stops.
 */
app.hook.appTerminate(() => closeServices());
