import { app } from '@azure/functions';
import { dashboard } from '../handlers/dashboard';

// The page at `/` and its top-level files, then its hashed assets. Two templates, not one catch-all: a
// catch-all would also take requests to API paths with a method their route does not serve (405 there).
app.http('dashboard', {
  methods: ['GET', 'HEAD'],
  route: '{file?}',
  authLevel: 'anonymous',
  handler: dashboard,
});
app.http('dashboardAssets', {
  methods: ['GET', 'HEAD'],
  route: 'assets/{file}',
  authLevel: 'anonymous',
  handler: dashboard,
});
