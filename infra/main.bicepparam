// Parameters of infra/main.bicep, read from the azd environment (azd exports its values, .azure/<env>/.env, to
// the process that compiles this file). Each has a safe default so the file also builds and snapshots with no
// environment at all (CI): the defaults name no real mailbox or app registration and deploy nothing usable.
using 'main.bicep'

param environmentName = readEnvironmentVariable('AZURE_ENV_NAME', 'orders-dev')

param location = readEnvironmentVariable('AZURE_LOCATION', 'westeurope')

// The person running azd (azd sets it); empty: no personal Cosmos DB data access.
param principalId = readEnvironmentVariable('AZURE_PRINCIPAL_ID', '')

// Set by infra/hooks/preprovision.sh before every provision. The all-zero default is no app registration: with
// it, App Service Authentication accepts no token at all (fail closed).
param authClientId = readEnvironmentVariable('AUTH_CLIENT_ID', '00000000-0000-0000-0000-000000000000')

param corsAllowedOrigins = readEnvironmentVariable('CORS_ALLOWED_ORIGINS', '')

param approvalThreshold = readEnvironmentVariable('APPROVAL_THRESHOLD', '1000.00')

param approvalTimeoutSeconds = int(readEnvironmentVariable('APPROVAL_TIMEOUT_SECONDS', '86400'))

param durableTaskHub = readEnvironmentVariable('DURABLE_TASK_HUB', 'OrderAcceptanceHub')

param cosmosCapacityMode = readEnvironmentVariable('COSMOS_CAPACITY_MODE', 'Serverless')

// The preprovision hook sets the three mailboxes to the signed-in user's address when they are unset.
param alertEmail = readEnvironmentVariable('ALERT_EMAIL', 'alerts@example.invalid')

param approverEmail = readEnvironmentVariable('APPROVER_EMAIL', 'approver@example.invalid')

param supportEmail = readEnvironmentVariable('SUPPORT_EMAIL', 'support@example.invalid')
