// The order API: a Function App on the Flex Consumption plan (Linux, Node.js 22) running as the user-assigned
// identity, with App Service Authentication (Microsoft Entra ID) in front of it. Every connection is
// identity-based; the app settings below are the complete set the code and the Functions host read on Azure
// (src/config/settings.ts, src/config/hostSettings.ts; test/infra/configContract.spec.ts checks both ways).
import { tagsType } from 'types.bicep'

@description('Name of the Function App (func-<token>).')
param name string

@description('Name of its Flex Consumption plan (plan-<token>).')
param planName string

@description('Region of both.')
param location string

@description('Tags of both; the app also gets azd-service-name: api.')
param tags tagsType

@description('Name of the user-assigned identity the app runs as, in this resource group.')
param identityName string

@description('Name of the host storage account (AzureWebJobsStorage, Durable Functions task hub, deployment package, dead letters).')
param storageAccountName string

@description('Blob container the deployment package is uploaded to (in the host storage account).')
param deploymentContainerName string

@description('Blob container of the app\'s own dead letters (DEAD_LETTERS_CONTAINER, in the host storage account).')
param deadLettersContainerName string

@description('Blob endpoint of the event lake account (Data Lake Storage Gen2): EVENT_LAKE__blobServiceUri.')
param lakeBlobEndpoint string

@description('Container (file system) of the event lake: EVENT_LAKE_CONTAINER.')
param lakeContainerName string

@description('Name of the Application Insights component the host sends telemetry to.')
param applicationInsightsName string

@description('Document endpoint of the Cosmos DB account.')
param cosmosEndpoint string

@description('Name of the Cosmos DB database.')
param cosmosDatabaseName string

@description('Publishing endpoint of the Event Grid topic.')
param eventGridTopicEndpoint string

@description('Durable Functions task hub (3-45 letters or digits, starting with a letter).')
param durableTaskHub string

@description('Order total above which a person must approve, a decimal string.')
param approvalThreshold string

@description('Seconds an order above the threshold waits for an approval.')
param approvalTimeoutSeconds int

@description('Origins a browser may call the API from, comma-separated; empty for none.')
param corsAllowedOrigins string

@description('Client id of the API\'s Microsoft Entra app registration (created by the preprovision hook).')
param authClientId string

@description('Most instances Flex Consumption scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int

@description('Memory of each instance, in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int

@description('The CloudEvent type prefix the subscriptions filter on (loadJsonContent of the generated declaration), so the app publishes exactly what they expect.')
var cloudEventsTypePrefix = loadJsonContent('../generated/event-subscriptions.json').typePrefix

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' existing = {
  name: identityName
}

resource storage 'Microsoft.Storage/storageAccounts@2026-09-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2025-03-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2025-03-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    clientCertEnabled: false
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      // The one place the app settings are set. No FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION or
      // WEBSITE_RUN_FROM_PACKAGE: Flex Consumption takes the runtime from functionAppConfig and refuses them.
      // No key, connection string with a key, or secret: every connection is the identity below.
      appSettings: [
        // Host storage (triggers, keys, Durable Functions task hub) through the identity.
        {
          name: 'AzureWebJobsStorage__accountName'
          value: storage.name
        }
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: identity.properties.clientId
        }
        // The connection string names the component (instrumentation key and ingestion endpoint); it is an
        // identifier, not a credential: the component has local auth disabled and accepts only the Entra ID
        // token the next setting makes the host send.
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: applicationInsights.properties.ConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'ClientId=${identity.properties.clientId};Authorization=AAD'
        }
        // Every credential the app builds (Cosmos DB, Event Grid, blobs) is pinned to this identity.
        {
          name: 'AZURE_CLIENT_ID'
          value: identity.properties.clientId
        }
        {
          name: 'EVENT_STORE'
          value: 'cosmos'
        }
        // The Cosmos DB connection of the app and of the change-feed triggers (connection `COSMOS`).
        {
          name: 'COSMOS__accountEndpoint'
          value: cosmosEndpoint
        }
        {
          name: 'COSMOS__credential'
          value: 'managedidentity'
        }
        {
          name: 'COSMOS__clientId'
          value: identity.properties.clientId
        }
        {
          name: 'COSMOS_DATABASE'
          value: cosmosDatabaseName
        }
        {
          name: 'EVENTGRID_TOPIC_ENDPOINT'
          value: eventGridTopicEndpoint
        }
        {
          name: 'CLOUDEVENTS_TYPE_PREFIX'
          value: cloudEventsTypePrefix
        }
        {
          name: 'DEAD_LETTERS'
          value: 'blob'
        }
        {
          name: 'DEAD_LETTERS_STORAGE__blobServiceUri'
          value: storage.properties.primaryEndpoints.blob
        }
        {
          name: 'DEAD_LETTERS_CONTAINER'
          value: deadLettersContainerName
        }
        {
          // The event lake consumer (src/app/eventLake.ts) writes Parquet to the lake through the identity.
          name: 'EVENT_LAKE'
          value: 'blob'
        }
        {
          name: 'EVENT_LAKE__blobServiceUri'
          value: lakeBlobEndpoint
        }
        {
          name: 'EVENT_LAKE_CONTAINER'
          value: lakeContainerName
        }
        {
          name: 'DURABLE_TASK_HUB'
          value: durableTaskHub
        }
        {
          name: 'AUTH_MODE'
          value: 'appservice'
        }
        {
          name: 'APPROVAL_THRESHOLD'
          value: approvalThreshold
        }
        {
          name: 'APPROVAL_TIMEOUT_SECONDS'
          value: string(approvalTimeoutSeconds)
        }
        {
          name: 'CORS_ALLOWED_ORIGINS'
          value: corsAllowedOrigins
        }
      ]
    }
  }
}

// App Service Authentication with Microsoft Entra ID. It validates the bearer token (issuer: this tenant,
// audience: the API's app registration) and passes the caller to the app as X-MS-CLIENT-PRINCIPAL; it lets
// unauthenticated requests through because the app itself answers 401/403 per route (health and the OpenAPI
// document are anonymous). No client secret: the API only validates tokens, it never signs anyone in itself.
resource authSettings 'Microsoft.Web/sites/config@2025-03-01' = {
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: false
      unauthenticatedClientAction: 'AllowAnonymous'
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: authClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            'api://${authClientId}'
            authClientId
          ]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
  }
}

// No FTP and no basic-auth publishing: azd deploys with an Entra ID token.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

@description('Resource id of the Function App.')
output id string = site.id

@description('Name of the Function App.')
output name string = site.name

@description('Default host name of the Function App (<name>.azurewebsites.net or the regional form).')
output defaultHostName string = site.properties.defaultHostName
