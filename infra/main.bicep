// The whole order service on Azure, for the Azure Developer CLI (`azd up`, docs/deploy.md): a resource group
// rg-<environment> holding the Function App (Flex Consumption, Node.js 22) and everything it talks to, every
// connection through the app's user-assigned identity and built-in data-plane roles, no key or secret anywhere.
// The Entra app registration of the API is created before this runs (infra/hooks/preprovision.sh: Bicep cannot
// create it without the Microsoft Graph extension, which comes from a registry); the Event Grid subscriptions
// to the functions are deployed after the code (infra/subscriptions.bicep, infra/hooks/postdeploy.sh).
targetScope = 'subscription'

import { roleIds } from 'modules/types.bicep'

@description('Name of the azd environment: the resource group is rg-<environmentName>, and every resource name is derived from it.')
@minLength(1)
@maxLength(64)
param environmentName string

@description('Region of the resource group and of every resource (Flex Consumption, Cosmos DB serverless and Azure Machine Learning must be offered there).')
@minLength(1)
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of the person deploying (azd sets AZURE_PRINCIPAL_ID): given Cosmos DB data access, for npm run replay-parked and ad hoc queries. Empty for none.')
param principalId string = ''

@description('Client id of the API\'s Microsoft Entra app registration, created by the preprovision hook (AUTH_CLIENT_ID).')
@minLength(36)
@maxLength(36)
param authClientId string

@description('Origins a browser may call the API from (CORS_ALLOWED_ORIGINS), comma-separated; empty for none.')
param corsAllowedOrigins string = ''

@description('Order total above which a person must approve the order (APPROVAL_THRESHOLD), a decimal string.')
param approvalThreshold string = '1000.00'

@description('Seconds an order above the threshold waits for an approval before it is rejected (APPROVAL_TIMEOUT_SECONDS).')
@minValue(1)
@maxValue(7776000)
param approvalTimeoutSeconds int = 86400

@description('Durable Functions task hub (DURABLE_TASK_HUB): 3-45 letters or digits, starting with a letter.')
@minLength(3)
@maxLength(45)
param durableTaskHub string = 'OrderAcceptanceHub'

@description('Name of the Cosmos DB database (COSMOS_DATABASE); by default the one the code declares.')
param cosmosDatabaseName string = loadJsonContent('generated/cosmos-containers.json').database

@description('Cosmos DB capacity: Serverless (pay per request unit) or Provisioned (autoscale, shared by the database).')
@allowed([
  'Serverless'
  'Provisioned'
])
param cosmosCapacityMode string = 'Serverless'

@description('Provisioned only: the database\'s autoscale maximum, in RU/s.')
@minValue(1000)
@maxValue(1000000)
param cosmosAutoscaleMaxThroughput int = 1000

@description('Most instances the Function App scales out to.')
@minValue(1)
@maxValue(1000)
param functionMaximumInstanceCount int = 100

@description('Memory of each Function App instance, in MB.')
@allowed([
  512
  2048
  4096
])
param functionInstanceMemoryMB int = 2048

@description('Mailbox the alerts are sent to.')
param alertEmail string

@description('Mailbox the order-approval Logic App asks to approve orders above the threshold.')
param approverEmail string

@description('Mailbox the order-approval Logic App tells of rejected orders.')
param supportEmail string

@description('Percentage of HTTP requests answered 5xx in 15 minutes above which an alert fires.')
@minValue(1)
@maxValue(100)
param http5xxPercentThreshold int = 5

@description('Fewest HTTP requests in 15 minutes for the 5xx rate to count.')
@minValue(1)
param http5xxMinimumRequests int = 20

@description('Seconds from a commit to its events being accepted by Event Grid above which an alert fires.')
@minValue(1)
param changeFeedLagSecondsThreshold int = 300

@description('Days Log Analytics keeps telemetry.')
@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

@description('Unique per subscription, environment and region: the suffix of every resource name.')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))

@description('Tags of the resource group and every resource: azd finds the environment\'s resources by azd-env-name.')
var tags = {
  'azd-env-name': environmentName
}

@description('Resource names, with the Azure abbreviations (learn.microsoft.com/azure/cloud-adoption-framework/ready/azure-best-practices/resource-abbreviations).')
var names = {
  resourceGroup: 'rg-${environmentName}'
  identity: 'id-${resourceToken}'
  plan: 'plan-${resourceToken}'
  functionApp: 'func-${resourceToken}'
  cosmos: 'cosmos-${resourceToken}'
  topic: 'evgt-${resourceToken}'
  storage: 'st${resourceToken}'
  lake: 'dls${resourceToken}'
  logAnalytics: 'log-${resourceToken}'
  applicationInsights: 'appi-${resourceToken}'
  machineLearning: 'mlw-${resourceToken}'
  machineLearningStorage: 'stml${resourceToken}'
  machineLearningKeyVault: 'kv-${resourceToken}'
  machineLearningInsights: 'appi-mlw-${resourceToken}'
  logicApp: 'logic-${resourceToken}'
}

@description('Blob containers of the host storage account.')
var containers = {
  // The package azd deploys (Flex Consumption reads it from here with the app's identity).
  deployment: 'app-package'
  // The app's own dead letters (DEAD_LETTERS_CONTAINER): channels publisher and parked.
  deadLetters: 'dead-letters'
  // What Event Grid could not deliver, written by the topic's identity.
  eventGridDeadLetters: 'eventgrid-dead-letters'
}

@description('File system of the event lake (Data Lake Storage Gen2) that Azure Machine Learning reads.')
var lakeFileSystem = 'events'

resource rg 'Microsoft.Resources/resourceGroups@2025-04-01' = {
  name: names.resourceGroup
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  scope: rg
  params: {
    name: names.identity
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  scope: rg
  dependsOn: [
    identity
  ]
  params: {
    logAnalyticsName: names.logAnalytics
    applicationInsightsName: names.applicationInsights
    location: location
    tags: tags
    retentionInDays: logRetentionInDays
    publisherIdentityName: names.identity
  }
}

module cosmos 'modules/cosmos.bicep' = {
  scope: rg
  params: {
    name: names.cosmos
    location: location
    tags: tags
    databaseName: cosmosDatabaseName
    capacityMode: cosmosCapacityMode
    autoscaleMaxThroughput: cosmosAutoscaleMaxThroughput
    dataContributors: concat(
      [
        {
          principalId: identity.outputs.principalId
          principalName: names.identity
        }
      ],
      empty(principalId)
        ? []
        : [
            {
              principalId: principalId
              principalName: principalId
            }
          ]
    )
  }
}

module eventGrid 'modules/eventGrid.bicep' = {
  scope: rg
  dependsOn: [
    identity
  ]
  params: {
    name: names.topic
    location: location
    tags: tags
    publisherIdentityName: names.identity
  }
}

// Host storage: AzureWebJobsStorage (Durable Functions task hub in queues and tables), the deployment package
// and both dead-letter containers.
module storage 'modules/storageAccount.bicep' = {
  scope: rg
  params: {
    name: names.storage
    location: location
    tags: tags
    isHnsEnabled: false
    containerNames: [
      containers.deployment
      containers.deadLetters
      containers.eventGridDeadLetters
    ]
    roleGrants: [
      {
        principalId: identity.outputs.principalId
        principalName: names.identity
        principalType: 'ServicePrincipal'
        // Storage Blob Data Owner (b7e6dc6d-f1e8-4753-8033-0f276bb0955b)
        roleDefinitionId: roleIds.storageBlobDataOwner
        description: 'The Functions host: its blobs, the deployment package, the app\'s dead letters.'
      }
      {
        principalId: identity.outputs.principalId
        principalName: names.identity
        principalType: 'ServicePrincipal'
        // Storage Queue Data Contributor (974c5e8b-45b9-4653-ba55-5f855dd0fb88)
        roleDefinitionId: roleIds.storageQueueDataContributor
        description: 'Durable Functions: the task hub\'s control and work-item queues.'
      }
      {
        principalId: identity.outputs.principalId
        principalName: names.identity
        principalType: 'ServicePrincipal'
        // Storage Table Data Contributor (0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3)
        roleDefinitionId: roleIds.storageTableDataContributor
        description: 'Durable Functions: the task hub\'s history and instances tables.'
      }
    ]
    containerRoleGrants: [
      {
        containerName: containers.eventGridDeadLetters
        principalId: eventGrid.outputs.principalId
        principalName: names.topic
        // Storage Blob Data Contributor (ba92f5b4-2d11-453d-a403-e96b0029c9fe), on this one container
        roleDefinitionId: roleIds.storageBlobDataContributor
        description: 'The Event Grid topic writes its subscriptions\' dead letters (deadLetterWithResourceIdentity).'
      }
    ]
  }
}

// The event lake: Data Lake Storage Gen2 (hierarchical namespace), file system `events`.
module lake 'modules/storageAccount.bicep' = {
  scope: rg
  params: {
    name: names.lake
    location: location
    tags: tags
    isHnsEnabled: true
    containerNames: [
      lakeFileSystem
    ]
    roleGrants: [
      {
        principalId: identity.outputs.principalId
        principalName: names.identity
        principalType: 'ServicePrincipal'
        // Storage Blob Data Contributor (ba92f5b4-2d11-453d-a403-e96b0029c9fe)
        roleDefinitionId: roleIds.storageBlobDataContributor
        description: 'The app exports the event stream to the lake.'
      }
    ]
    containerRoleGrants: []
  }
}

module machineLearning 'modules/machineLearning.bicep' = {
  scope: rg
  dependsOn: [
    lake
  ]
  params: {
    name: names.machineLearning
    location: location
    tags: tags
    storageAccountName: names.machineLearningStorage
    keyVaultName: names.machineLearningKeyVault
    applicationInsightsName: names.machineLearningInsights
    logAnalyticsId: monitoring.outputs.logAnalyticsId
    lakeAccountName: names.lake
    lakeFileSystem: lakeFileSystem
  }
}

module functionApp 'modules/functionApp.bicep' = {
  scope: rg
  dependsOn: [
    storage
    monitoring
  ]
  params: {
    name: names.functionApp
    planName: names.plan
    location: location
    tags: tags
    identityName: names.identity
    storageAccountName: names.storage
    deploymentContainerName: containers.deployment
    deadLettersContainerName: containers.deadLetters
    lakeBlobEndpoint: lake.outputs.blobEndpoint
    lakeContainerName: lakeFileSystem
    applicationInsightsName: names.applicationInsights
    cosmosEndpoint: cosmos.outputs.endpoint
    cosmosDatabaseName: cosmosDatabaseName
    eventGridTopicEndpoint: eventGrid.outputs.endpoint
    durableTaskHub: durableTaskHub
    approvalThreshold: approvalThreshold
    approvalTimeoutSeconds: approvalTimeoutSeconds
    corsAllowedOrigins: corsAllowedOrigins
    authClientId: authClientId
    maximumInstanceCount: functionMaximumInstanceCount
    instanceMemoryMB: functionInstanceMemoryMB
  }
}

// The order-approval Logic App and its Event Grid subscription (a webhook, so it can be created now). Its
// subscription dead-letters through the topic's identity: taking storage.outputs.id makes it wait for the storage
// module, which grants that identity its role on the container (and itself waits for the topic).
module logicApp 'modules/logicApp.bicep' = {
  scope: rg
  params: {
    name: names.logicApp
    location: location
    tags: tags
    apiBaseUrl: 'https://${functionApp.outputs.defaultHostName}'
    apiAudience: 'api://${authClientId}'
    approvalThreshold: approvalThreshold
    approverEmail: approverEmail
    supportEmail: supportEmail
    topicName: names.topic
    deadLetterStorageAccountId: storage.outputs.id
    deadLetterContainerName: containers.eventGridDeadLetters
  }
}

module alerts 'modules/alerts.bicep' = {
  scope: rg
  params: {
    nameSuffix: resourceToken
    location: location
    tags: tags
    alertEmail: alertEmail
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    topicId: eventGrid.outputs.id
    http5xxPercentThreshold: http5xxPercentThreshold
    http5xxMinimumRequests: http5xxMinimumRequests
    changeFeedLagSecondsThreshold: changeFeedLagSecondsThreshold
  }
}

module workbook 'modules/workbook.bicep' = {
  scope: rg
  params: {
    displayName: 'Order flow (${environmentName})'
    location: location
    tags: tags
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    topicId: eventGrid.outputs.id
  }
}

// Outputs: what azd stores in the environment (.azure/<env>/.env) for the hooks and for people. Names and
// endpoints only: no key, connection string or signed URL.

@description('Region of the deployment.')
output AZURE_LOCATION string = location

@description('Tenant of the deployment (the API\'s tokens are issued there).')
output AZURE_TENANT_ID string = tenant().tenantId

@description('The resource group holding everything.')
output AZURE_RESOURCE_GROUP string = rg.name

@description('Name of the Function App (azd deploys service api to it; the postdeploy hook subscribes its functions).')
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name

@description('Base URL of the API.')
output API_BASE_URL string = 'https://${functionApp.outputs.defaultHostName}'

@description('Client id of the API\'s Entra app registration (echo of the parameter; tokens are requested for api://<it>).')
output AUTH_CLIENT_ID string = authClientId

@description('Name of the Event Grid topic.')
output EVENTGRID_TOPIC_NAME string = eventGrid.outputs.name

@description('Publishing endpoint of the Event Grid topic.')
output EVENTGRID_TOPIC_ENDPOINT string = eventGrid.outputs.endpoint

@description('Storage account holding the dead-letter containers.')
output DEAD_LETTER_STORAGE_ACCOUNT_NAME string = storage.outputs.name

@description('Container Event Grid dead-letters to.')
output EVENTGRID_DEAD_LETTER_CONTAINER string = containers.eventGridDeadLetters

@description('Endpoint of the Cosmos DB account.')
output AZURE_COSMOS_ENDPOINT string = cosmos.outputs.endpoint

@description('Name of the Cosmos DB database.')
output AZURE_COSMOS_DATABASE string = cosmos.outputs.databaseName

@description('Name of the order-approval Logic App.')
output LOGIC_APP_NAME string = logicApp.outputs.name

@description('Object id of the Logic App\'s identity (the postprovision hook gives it the orders.approve app role).')
output LOGIC_APP_PRINCIPAL_ID string = logicApp.outputs.principalId

@description('Name of the Data Lake Storage Gen2 account of the event lake.')
output DATA_LAKE_ACCOUNT_NAME string = lake.outputs.name

@description('Name of the Azure Machine Learning workspace.')
output AZURE_ML_WORKSPACE_NAME string = machineLearning.outputs.name
