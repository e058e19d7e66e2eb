// The order-approval Logic App (Consumption): Event Grid delivers the order stream to its Request trigger as
// CloudEvents 1.0; above the approval threshold it asks a person through the Office 365 Outlook connector and
// calls the API's approval route with its own managed identity; on OrderRejected it tells the support mailbox.
// The workflow definition is infra/logicapp/order-approval.workflow.json (checked by
// test/infra/logicAppWorkflow.spec.ts); it holds no environment-specific value, only workflow parameters.

import { tagsType } from 'types.bicep'

@description('Name of the Logic App (Microsoft.Logic/workflows).')
param name string

@description('Region of the Logic App and of its Office 365 connection.')
param location string

@description('Tags of every resource of the module.')
param tags tagsType

@description('https://<function app host> of the order API, without a trailing slash.')
param apiBaseUrl string

@description('api://<client id of the API\'s Entra app>: the audience of the token the Logic App\'s identity sends.')
param apiAudience string

@description('APPROVAL_THRESHOLD of the app, a decimal string such as "1000.00".')
param approvalThreshold string

@description('Mailbox asked to approve orders above the threshold.')
param approverEmail string

@description('Mailbox told of rejected orders.')
param supportEmail string

@description('Name of the existing Event Grid topic (same resource group) the order events are published to.')
param topicName string

@description('Resource id of the Storage account that receives the subscription\'s dead letters.')
param deadLetterStorageAccountId string

@description('Blob container of the dead letters in that account.')
param deadLetterContainerName string

@description('The code\'s one declaration of who subscribes to what (src/app/subscriptions.ts, npm run infra:generate).')
var eventSubscriptions = loadJsonContent('../generated/event-subscriptions.json')
@description('This Logic App\'s entry in it: the CloudEvent types it receives.')
var orderApproval = filter(eventSubscriptions.subscriptions, s => s.name == 'orderApproval')[0]

@description('The trigger whose callback URL Event Grid delivers to; the definition file names it the same.')
var triggerName = 'Event_Grid_delivery'

@description('The Office 365 Outlook managed API of the region.')
var office365ApiId = subscriptionResourceId('Microsoft.Web/locations/managedApis', location, 'office365')

// Office 365 Outlook connection. Deployment creates it unauthenticated: a person opens it once after the first
// deploy (portal: the Logic App > API connections > this connection > Edit API connection > Authorize, signing
// in as the mailbox that sends the approval and support emails) and saves. Until then the email actions fail;
// a redeploy keeps the consent. No secret passes through Bicep.
resource office365 'Microsoft.Web/connections@2016-06-01' = {
  name: '${name}-office365'
  location: location
  tags: tags
  properties: {
    displayName: 'Office 365 Outlook (order approvals and support notices)'
    api: {
      id: office365ApiId
    }
  }
}

// How the definition answers Event Grid (details in the definition file):
// - The Request trigger declares no `method`, so it accepts every method, OPTIONS included (a trigger can name
//   only one method; naming POST would refuse the handshake). A request that carries WebHook-Request-Origin and
//   no body is the CloudEvents abuse-protection handshake: the answer is 200 with WebHook-Allowed-Origin set to
//   the requested origin, WebHook-Allowed-Rate * and Allow: POST, OPTIONS (CloudEvents HTTP webhook spec 4.2).
// - A delivery is one CloudEvent in structured mode (maxEventsPerBatch 1 below). Above the threshold the run
//   answers 202 before sending the approval email: Event Grid waits 30 s for an answer, a person may take a day.
//   OrderRejected answers once the support email is sent (503 when it failed, so Event Grid delivers again);
//   other types answer 200; a body that is not a CloudEvent of the order service answers 400 (dead-lettered).
// - The threshold is compared with decimal() (.NET System.Decimal, 28-29 significant digits): amounts have at
//   most 16 integer and 6 fraction digits, so the comparison is exact, the same as the app's compareDecimal.
//   Even if the engine compared the two as doubles, a total could only be misclassified within one ulp of the
//   threshold, which for any threshold below 4.5e9 is finer than the 0.000001 step of amounts.
resource workflow 'Microsoft.Logic/workflows@2019-05-01' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    state: 'Enabled'
    definition: loadJsonContent('../logicapp/order-approval.workflow.json')
    parameters: {
      '$connections': {
        value: {
          office365: {
            connectionId: office365.id
            connectionName: office365.name
            id: office365ApiId
          }
        }
      }
      apiBaseUrl: {
        value: apiBaseUrl
      }
      apiAudience: {
        value: apiAudience
      }
      approvalThreshold: {
        value: approvalThreshold
      }
      approverEmail: {
        value: approverEmail
      }
      supportEmail: {
        value: supportEmail
      }
      eventTypePrefix: {
        value: eventSubscriptions.typePrefix
      }
    }
  }
}

resource trigger 'Microsoft.Logic/workflows/triggers@2019-05-01' existing = {
  parent: workflow
  name: triggerName
}

resource topic 'Microsoft.EventGrid/topics@2025-02-15' existing = {
  name: topicName
}

// Event Grid validates the endpoint (the handshake above) when it creates the subscription, so the workflow must
// exist first: listCallbackUrl() on the trigger makes the subscription depend on it. The callback URL carries the
// trigger's SAS signature: it is used here only, never output.
resource subscription 'Microsoft.EventGrid/topics/eventSubscriptions@2025-02-15' = {
  parent: topic
  name: orderApproval.name
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: trigger.listCallbackUrl().value
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'CloudEventSchemaV1_0'
    filter: {
      includedEventTypes: orderApproval.includedEventTypes
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
    // The topic's system-assigned identity writes the dead letters: it needs Storage Blob Data Contributor on
    // the account (granted where the topic and the account are declared).
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: deadLetterStorageAccountId
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}

@description('Resource id of the Logic App.')
output id string = workflow.id

@description('Name of the Logic App.')
output name string = workflow.name

@description('Principal id of the Logic App\'s system-assigned identity: give it the API\'s orders.approve app role.')
output principalId string = workflow.identity.principalId
