// Parameters of infra/subscriptions.bicep, from the azd environment (the outputs of main.bicep) when the
// postdeploy hook deploys it. The defaults are placeholders so the file builds and snapshots without an
// environment; the hook refuses to run unless the real values are set.
using 'subscriptions.bicep'

param functionAppName = readEnvironmentVariable('AZURE_FUNCTION_APP_NAME', 'func-placeholder')

param topicName = readEnvironmentVariable('EVENTGRID_TOPIC_NAME', 'evgt-placeholder')

param deadLetterStorageAccountName = readEnvironmentVariable('DEAD_LETTER_STORAGE_ACCOUNT_NAME', 'stplaceholder')

param deadLetterContainerName = readEnvironmentVariable('EVENTGRID_DEAD_LETTER_CONTAINER', 'eventgrid-dead-letters')
