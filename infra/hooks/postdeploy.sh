#!/bin/sh
# azd postdeploy hook: creates the Event Grid subscriptions to the app's Event Grid-triggered functions by
# deploying infra/subscriptions.bicep (parameters: infra/subscriptions.bicepparam, read from the azd
# environment, which holds main.bicep's outputs). It runs after `azd deploy` because Event Grid validates an
# AzureFunction destination when the subscription is created: the function must already exist, and the
# functions exist only once the code is deployed and the host has listed them. Idempotent: deploying the same
# subscriptions again changes nothing.
set -eu

: "${AZURE_RESOURCE_GROUP:?unset: run azd provision first}"
: "${AZURE_FUNCTION_APP_NAME:?unset: run azd provision first}"
: "${EVENTGRID_TOPIC_NAME:?unset: run azd provision first}"
: "${DEAD_LETTER_STORAGE_ACCOUNT_NAME:?unset: run azd provision first}"

# The functions the subscriptions deliver to (destination `function` in src/app/subscriptions.ts).
functions=$(node -e '
for (const s of require("./infra/generated/event-subscriptions.json").subscriptions)
  if (s.destination === "function") console.log(s.name);
')

# After a deployment the host lists the functions within a minute or two: wait up to 5 minutes for each.
for name in $functions; do
  tries=0
  until az functionapp function show --resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" \
    --function-name "$name" --query name --output tsv >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -ge 30 ]; then
      echo "postdeploy: function $name is not listed on $AZURE_FUNCTION_APP_NAME after 5 minutes; run azd deploy again" >&2
      exit 1
    fi
    sleep 10
  done
done

az deployment group create --resource-group "$AZURE_RESOURCE_GROUP" --name event-subscriptions \
  --parameters infra/subscriptions.bicepparam --output none
echo "postdeploy: the Event Grid subscriptions of $EVENTGRID_TOPIC_NAME to $(echo "$functions" | tr '\n' ' ')are in place"
