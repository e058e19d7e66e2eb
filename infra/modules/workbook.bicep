// The "Order flow" workbook in the portal: requests by route, events published and delivered, the relay's
// change-feed lag and dead letters, and the acceptance orchestrations. Built here (not loaded from a file) so
// the custom metric names come from infra/generated/telemetry.json like the alerts' do.
import { tagsType } from 'types.bicep'

@description('Display name of the workbook.')
param displayName string

@description('Region of the workbook.')
param location string

@description('Tags of the workbook.')
param tags tagsType

@description('Resource id of the Application Insights component the queries read.')
param applicationInsightsId string

@description('Resource id of the Event Grid topic whose metrics are charted.')
param topicId string

@description('The metrics the app emits, by key (src/shared/telemetryNames.ts).')
var metrics = loadJsonContent('../generated/telemetry.json').metrics

@description('Every chart covers the last 24 hours, in ms.')
var lastDayMs = 86400000

@description('The sections, top to bottom in the order an order flows: a heading, then log queries over Application Insights (classic table names) or platform metrics of the topic.')
var sections = [
  {
    name: 'title'
    markdown: '# Order flow\nHTTP commands append events to Cosmos DB; the change feed relays them to Event Grid as CloudEvents; subscribers and the acceptance orchestration act on them.'
    items: []
  }
  {
    name: 'requests'
    markdown: '## Requests by route'
    items: [
      {
        kind: 'query'
        name: 'requests-by-route'
        title: 'HTTP requests per function (route)'
        visualization: 'table'
        query: join(
          [
            'requests'
            '| where isnotempty(url)'
            '| summarize requests = count(), failed5xx = countif(toint(resultCode) >= 500), p95ms = percentile(duration, 95) by route = name'
            '| order by requests desc'
          ],
          '\n'
        )
      }
      {
        kind: 'query'
        name: 'requests-over-time'
        title: 'Requests over time, by result code'
        visualization: 'timechart'
        query: join(
          [
            'requests'
            '| where isnotempty(url)'
            '| summarize count() by resultCode, bin(timestamp, 5m)'
          ],
          '\n'
        )
      }
    ]
  }
  {
    name: 'events'
    markdown: '## Events published and delivered'
    items: [
      {
        kind: 'metrics'
        name: 'events-published'
        title: 'Events published to the topic: accepted, failed'
        metricNames: [
          'PublishSuccessCount'
          'PublishFailCount'
        ]
      }
      {
        kind: 'metrics'
        name: 'events-delivered'
        title: 'Deliveries to subscribers: delivered, failed attempts, dead-lettered'
        metricNames: [
          'DeliverySuccessCount'
          'DeliveryAttemptFailCount'
          'DeadLetteredCount'
        ]
      }
      {
        kind: 'query'
        name: 'commits-relayed'
        title: 'Commits relayed from the change feed'
        visualization: 'timechart'
        query: join(
          [
            'customMetrics'
            '| where name == "${metrics.changeFeedLag.name}"'
            '| summarize commits = sum(valueCount) by bin(timestamp, 5m)'
          ],
          '\n'
        )
      }
    ]
  }
  {
    name: 'lag'
    markdown: '## Change-feed lag'
    items: [
      {
        kind: 'query'
        name: 'changefeed-lag'
        title: 'Seconds from commit to Event Grid (${metrics.changeFeedLag.name}): average and slowest'
        visualization: 'timechart'
        query: join(
          [
            'customMetrics'
            '| where name == "${metrics.changeFeedLag.name}"'
            '| summarize average = sum(valueSum) / sum(valueCount), slowest = max(valueMax) by bin(timestamp, 5m)'
          ],
          '\n'
        )
      }
    ]
  }
  {
    name: 'dead-letters'
    markdown: '## Dead letters\nThe relay sets aside events Event Grid can never accept (channel `publisher`) and commits it could not publish in time (channel `parked`, replayed with `npm run replay-parked`); Event Grid dead-letters failed deliveries into the `eventgrid-dead-letters` container.'
    items: [
      {
        kind: 'query'
        name: 'relay-dead-letters'
        title: 'Set aside by the relay'
        visualization: 'barchart'
        query: join(
          [
            'customMetrics'
            '| where name in ("${metrics.publisherDeadLettered.name}", "${metrics.publisherParked.name}")'
            '| summarize total = sum(valueSum) by name, bin(timestamp, 1h)'
          ],
          '\n'
        )
      }
    ]
  }
  {
    name: 'all-metrics'
    markdown: '## Every metric the app emits\nOne row per metric of src/shared/telemetryNames.ts, so a metric added to the code shows here after npm run infra:generate.'
    items: [
      {
        kind: 'query'
        name: 'all-metrics'
        title: 'Count, sum and maximum of each metric'
        visualization: 'table'
        query: join(
          [
            'customMetrics'
            '| where name in (${join(map(items(metrics), m => '"${m.value.name}"'), ', ')})'
            '| summarize samples = sum(valueCount), total = sum(valueSum), maximum = max(valueMax) by name'
          ],
          '\n'
        )
      }
    ]
  }
  {
    name: 'acceptance'
    markdown: '## Order acceptance'
    items: [
      {
        kind: 'query'
        name: 'orchestrations'
        title: 'Acceptance orchestrations by final state'
        visualization: 'barchart'
        query: join(
          [
            'traces'
            '| where tostring(customDimensions.Category) == "Host.Triggers.DurableTask"'
            '| where tostring(customDimensions.prop__functionType) == "Orchestrator"'
            '| where tolower(tostring(customDimensions.prop__isReplay)) != "true"'
            '| extend state = tostring(customDimensions.prop__state)'
            '| where state in ("Completed", "Failed", "Terminated")'
            '| summarize instances = dcount(tostring(customDimensions.prop__instanceId)) by state, bin(timestamp, 1h)'
          ],
          '\n'
        )
      }
    ]
  }
]

@description('The sections as workbook items: a text item (type 1) per heading, a log query item (type 3) or a metrics item (type 10) per chart.')
var workbookItems = flatten(map(
  sections,
  section =>
    concat(
      [
        {
          type: 1
          name: '${section.name}-text'
          content: {
            json: section.markdown
          }
        }
      ],
      map(
        section.items,
        item =>
          item.kind == 'query'
            ? {
                type: 3
                name: item.name
                content: {
                  version: 'KqlItem/1.0'
                  title: item.title
                  query: item.?query
                  size: 0
                  queryType: 0
                  resourceType: 'microsoft.insights/components'
                  crossComponentResources: [
                    applicationInsightsId
                  ]
                  timeContext: {
                    durationMs: lastDayMs
                  }
                  visualization: item.?visualization
                }
              }
            : {
                type: 10
                name: item.name
                content: {
                  chartId: 'workbook-${item.name}'
                  version: 'MetricsItem/2.0'
                  title: item.title
                  size: 0
                  chartType: 2
                  resourceType: 'microsoft.eventgrid/topics'
                  metricScope: 0
                  resourceIds: [
                    topicId
                  ]
                  timeContext: {
                    durationMs: lastDayMs
                  }
                  metrics: map(item.?metricNames ?? [], metricName => {
                    namespace: 'microsoft.eventgrid/topics'
                    metric: 'microsoft.eventgrid/topics--${metricName}'
                    aggregation: 1
                  })
                }
              }
      )
    )
))

@description('The workbook document (Notebook/1.0).')
var workbookContent = {
  version: 'Notebook/1.0'
  items: workbookItems
  fallbackResourceIds: [
    applicationInsightsId
  ]
}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, 'order-flow-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    sourceId: applicationInsightsId
    serializedData: string(workbookContent)
  }
}

@description('Resource id of the workbook.')
output id string = workbook.id
