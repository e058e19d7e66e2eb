/**
 * App settings that the Azure Functions host reads on Azure: with them the app's settings
 * (settingsSchema in settings.ts) are every app setting Bicep may set (test/infra/configContract.spec.ts
 * checks both directions). All identity-based: no key or secret among them.
 * - `AzureWebJobsStorage__*`: the host's storage (leases of timers, keys, Durable Functions' task hub queues
 *   and tables) through the managed identity
 *   (learn.microsoft.com/azure/azure-functions/functions-reference#connecting-to-host-storage-with-an-identity).
 * - `APPLICATIONINSIGHTS_CONNECTION_STRING`: the Application Insights resource to send to (the app's own
 *   telemetry reads it too, src/telemetry/start.ts); an identifier, not a credential, since the resource has local
 *   authentication disabled and accepts only Entra ID tokens.
 * - `APPLICATIONINSIGHTS_AUTHENTICATION_STRING`: `ClientId=<identity>;Authorization=AAD`, the identity the host
 *   sends telemetry with (learn.microsoft.com/azure/azure-monitor/app/azure-ad-authentication).
 */
export const functionsHostSettings = [
  'AzureWebJobsStorage__accountName',
  'AzureWebJobsStorage__credential',
  'AzureWebJobsStorage__clientId',
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
] as const;

/** Settings App Service sets itself on Azure (never in Bicep): the code reads them to know where it runs. */
export const platformSettings = ['WEBSITE_SITE_NAME', 'WEBSITE_HOSTNAME', 'WEBSITE_AUTH_ENABLED'] as const;
