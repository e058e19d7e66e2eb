// Alerts on the order flow, mailed to one action group. Platform metrics of the Event Grid topic for deliveries
// (failed attempts, dead letters); log search alerts on Application Insights for what only the app knows: the
// 5xx rate, failed acceptance orchestrations, and the relay's dead letters, parked commits and change-feed lag.
// The custom metric names are read from infra/generated/telemetry.json (written by npm run infra:generate from
// src/shared/telemetryNames.ts), so a query can never name a metric the code does not emit.
import { tagsType } from 'types.bicep'

@description('Suffix of every alert name (the resource token).')
param nameSuffix string

@description('Region of the log search alert rules.')
param location string

@description('Tags of every resource of the module.')
param tags tagsType

@description('Mailbox the alerts are sent to.')
param alertEmail string

@description('Resource id of the Application Insights component the log search alerts query.')
param applicationInsightsId string

@description('Resource id of the Event Grid topic whose delivery metrics are watched.')
param topicId string

@description('Percentage of HTTP requests answered 5xx in 15 minutes above which the 5xx alert fires.')
@minValue(1)
@maxValue(100)
param http5xxPercentThreshold int

@description('Fewest HTTP requests in 15 minutes for the 5xx rate to count (a handful of requests says little).')
@minValue(1)
param http5xxMinimumRequests int

@description('Seconds from a commit to its events being accepted by Event Grid above which the lag alert fires.')
@minValue(1)
param changeFeedLagSecondsThreshold int

@description('The metrics the app emits, by key: name, unit and description (src/shared/telemetryNames.ts).')
var metrics = loadJsonContent('../generated/telemetry.json').metrics

@description('How often each log search alert runs, and the window it looks at.')
var schedule = {
  evaluationFrequency: 'PT5M'
  windowSize: 'PT15M'
}

@description('An alert fires on one bad evaluation and resolves itself when the next one is good.')
var failingPeriods = {
  numberOfEvaluationPeriods: 1
  minFailingPeriodsToAlert: 1
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-${nameSuffix}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'orders'
    enabled: true
    emailReceivers: [
      {
        name: 'operations'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

@description('The Event Grid delivery metric alerts: metric name (namespace Microsoft.EventGrid/topics), what it means, severity.')
var topicMetricAlerts = [
  {
    key: 'deadlettered'
    metricName: 'DeadLetteredCount'
    description: 'Event Grid dead-lettered events of a subscription (after 30 attempts or 24 hours, or refused for good): they are blobs in the eventgrid-dead-letters container.'
    severity: 1
  }
  {
    key: 'delivery-failures'
    metricName: 'DeliveryAttemptFailCount'
    description: 'Event Grid failed to deliver events to a subscriber (a consumer function or the Logic App answered an error or timed out); it retries.'
    severity: 2
  }
]

resource topicAlerts 'Microsoft.Insights/metricAlerts@2026-01-01' = [
  for alert in topicMetricAlerts: {
    name: 'alert-evgt-${alert.key}-${nameSuffix}'
    location: 'global'
    tags: tags
    properties: {
      description: alert.description
      severity: alert.severity
      enabled: true
      scopes: [
        topicId
      ]
      evaluationFrequency: 'PT5M'
      windowSize: 'PT15M'
      autoMitigate: true
      criteria: {
        'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
        allOf: [
          {
            criterionType: 'StaticThresholdCriterion'
            name: alert.metricName
            metricNamespace: 'Microsoft.EventGrid/topics'
            metricName: alert.metricName
            operator: 'GreaterThan'
            threshold: 0
            timeAggregation: 'Total'
          }
        ]
      }
      actions: [
        {
          actionGroupId: actionGroup.id
        }
      ]
    }
  }
]

@description('The log search alerts on Application Insights (classic table names: requests, traces, customMetrics).')
var logAlerts = [
  {
    key: 'http-5xx'
    displayName: 'Order API: 5xx rate'
    description: 'More than ${http5xxPercentThreshold}% of the HTTP requests in 15 minutes were answered with a 5xx status.'
    severity: 1
    query: join(
      [
        'requests'
        '| where isnotempty(url)'
        '| summarize total = count(), failed = countif(toint(resultCode) >= 500)'
        '| where total >= ${http5xxMinimumRequests}'
        '| extend failurePercent = 100.0 * failed / total'
      ],
      '\n'
    )
    timeAggregation: 'Maximum'
    metricMeasureColumn: 'failurePercent'
    threshold: http5xxPercentThreshold
  }
  {
    key: 'orchestrations-failed'
    displayName: 'Order acceptance: failed orchestrations'
    description: 'An order acceptance orchestration ended Failed: its order stays submitted with its reservations (docs/durable.md).'
    severity: 1
    // The Durable Functions extension's tracking events (learn.microsoft.com/azure/azure-functions/durable/durable-functions-diagnostics).
    query: join(
      [
        'traces'
        '| where tostring(customDimensions.Category) == "Host.Triggers.DurableTask"'
        '| where tostring(customDimensions.prop__functionType) == "Orchestrator"'
        '| where tostring(customDimensions.prop__state) == "Failed"'
        '| where tolower(tostring(customDimensions.prop__isReplay)) != "true"'
        '| project timestamp, instanceId = tostring(customDimensions.prop__instanceId), reason = tostring(customDimensions.prop__reason)'
      ],
      '\n'
    )
    timeAggregation: 'Count'
    metricMeasureColumn: ''
    threshold: 0
  }
  {
    key: 'publisher-deadlettered'
    displayName: 'Event relay: dead-lettered events'
    description: '${metrics.publisherDeadLettered.description} (metric ${metrics.publisherDeadLettered.name}); they are in the dead-letters container, channel publisher.'
    severity: 1
    query: join(
      [
        'customMetrics'
        '| where name == "${metrics.publisherDeadLettered.name}"'
        '| project timestamp, valueSum'
      ],
      '\n'
    )
    timeAggregation: 'Total'
    metricMeasureColumn: 'valueSum'
    threshold: 0
  }
  {
    key: 'publisher-parked'
    displayName: 'Event relay: parked commits'
    description: '${metrics.publisherParked.description} (metric ${metrics.publisherParked.name}).'
    severity: 1
    query: join(
      [
        'customMetrics'
        '| where name == "${metrics.publisherParked.name}"'
        '| project timestamp, valueSum'
      ],
      '\n'
    )
    timeAggregation: 'Total'
    metricMeasureColumn: 'valueSum'
    threshold: 0
  }
  {
    key: 'changefeed-lag'
    displayName: 'Event relay: change-feed lag'
    description: '${metrics.changeFeedLag.description} (metric ${metrics.changeFeedLag.name}): the slowest commit in 15 minutes took more than ${changeFeedLagSecondsThreshold} s.'
    severity: 2
    query: join(
      [
        'customMetrics'
        '| where name == "${metrics.changeFeedLag.name}"'
        '| project timestamp, valueMax'
      ],
      '\n'
    )
    timeAggregation: 'Maximum'
    metricMeasureColumn: 'valueMax'
    threshold: changeFeedLagSecondsThreshold
  }
]

resource logSearchAlerts 'Microsoft.Insights/scheduledQueryRules@2026-03-01' = [
  for alert in logAlerts: {
    name: 'alert-${alert.key}-${nameSuffix}'
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: alert.displayName
      description: alert.description
      severity: alert.severity
      enabled: true
      scopes: [
        applicationInsightsId
      ]
      evaluationFrequency: schedule.evaluationFrequency
      windowSize: schedule.windowSize
      autoMitigate: true
      criteria: {
        allOf: [
          {
            query: alert.query
            timeAggregation: alert.timeAggregation
            metricMeasureColumn: empty(alert.metricMeasureColumn) ? null : alert.metricMeasureColumn
            operator: 'GreaterThan'
            threshold: alert.threshold
            failingPeriods: failingPeriods
          }
        ]
      }
      actions: {
        actionGroups: [
          actionGroup.id
        ]
      }
    }
  }
]

@description('Resource id of the action group the alerts mail.')
output actionGroupId string = actionGroup.id
