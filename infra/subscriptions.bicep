// The Event Grid subscriptions that deliver to this app's Event Grid-triggered functions, one per entry of
// src/app/subscriptions.ts whose destination is `function` (infra/generated/event-subscriptions.json, written by
// npm run infra:generate). Deployed by infra/hooks/postdeploy.sh after `azd deploy`, not by main.bicep: Event
// Grid refuses an AzureFunction destination whose function does not exist yet, and the functions exist only
// once the code is deployed (docs/deploy.md). The Logic App's subscription is in modules/logicApp.bicep.
targetScope = 'resourceGroup'

@description('Name of the Function App whose functions receive the events.')
param functionAppName string

@description('Name of the Event Grid topic.')
param topicName string

@description('Name of the storage account holding the dead-letter container.')
param deadLetterStorageAccountName string

@description('Blob container Event Grid dead-letters to; the topic\'s identity has Storage Blob Data Contributor on it (main.bicep).')
param deadLetterContainerName string = 'eventgrid-dead-letters'

@description('Delivery attempts before an event is dead-lettered.')
@minValue(1)
@maxValue(30)
param maxDeliveryAttempts int = 30

@description('Minutes an event is retried before it is dead-lettered.')
@minValue(1)
@maxValue(1440)
param eventTimeToLiveInMinutes int = 1440

@description('The subscriptions the code declares whose destination is a function of this app.')
var functionSubscriptions = filter(
  loadJsonContent('generated/event-subscriptions.json').subscriptions,
  subscription => subscription.destination == 'function'
)

resource site 'Microsoft.Web/sites@2025-03-01' existing = {
  name: functionAppName
}

resource topic 'Microsoft.EventGrid/topics@2025-02-15' existing = {
  name: topicName
}

resource deadLetterStorage 'Microsoft.Storage/storageAccounts@2026-09-01' existing = {
  name: deadLetterStorageAccountName
}

resource subscriptions 'Microsoft.EventGrid/topics/eventSubscriptions@2025-02-15' = [
  for subscription in functionSubscriptions: {
    parent: topic
    name: subscription.name
    properties: {
      destination: {
        endpointType: 'AzureFunction'
        properties: {
          // The function of the same name (app.eventGrid(name, ...) in src/functions).
          resourceId: '${site.id}/functions/${subscription.name}'
          maxEventsPerBatch: 1
          preferredBatchSizeInKilobytes: 64
        }
      }
      eventDeliverySchema: 'CloudEventSchemaV1_0'
      filter: {
        includedEventTypes: subscription.includedEventTypes
      }
      retryPolicy: {
        maxDeliveryAttempts: maxDeliveryAttempts
        eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
      }
      deadLetterWithResourceIdentity: {
        identity: {
          type: 'SystemAssigned'
        }
        deadLetterDestination: {
          endpointType: 'StorageBlob'
          properties: {
            resourceId: deadLetterStorage.id
            blobContainerName: deadLetterContainerName
          }
        }
      }
    }
  }
]

@description('Names of the subscriptions created.')
output subscriptionNames string[] = [for (subscription, i) in functionSubscriptions: subscriptions[i].name]
