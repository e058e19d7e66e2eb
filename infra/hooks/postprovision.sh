#!/bin/sh
# azd postprovision hook: gives the order-approval Logic App's managed identity the API's `orders.approve` app
# role (a Microsoft Graph appRoleAssignment on the API's service principal), so the token it gets for
# api://<client id> carries the role the approval route requires. Idempotent: an existing assignment is kept.
# Reads AUTH_CLIENT_ID and LOGIC_APP_PRINCIPAL_ID from the azd environment (main.bicep's outputs).
set -eu

: "${AUTH_CLIENT_ID:?unset: run azd provision (the preprovision hook sets it)}"
: "${LOGIC_APP_PRINCIPAL_ID:?unset: run azd provision (an output of infra/main.bicep)}"

role_value=orders.approve
graph=$(az cloud show --query endpoints.microsoftGraphResourceId --output tsv)
graph=${graph%/}

api_sp=$(az ad sp show --id "$AUTH_CLIENT_ID" --query id --output tsv)
role_id=$(az ad sp show --id "$AUTH_CLIENT_ID" --query "appRoles[?value=='$role_value'].id | [0]" --output tsv)
if [ -z "$role_id" ]; then
  echo "postprovision: the API's app registration has no $role_value role (infra/generated/app-roles.json)" >&2
  exit 1
fi

# A new identity may take a minute to appear in Microsoft Graph: try for up to 5 minutes.
tries=0
while :; do
  existing=$(az rest --method GET \
    --uri "$graph/v1.0/servicePrincipals/$LOGIC_APP_PRINCIPAL_ID/appRoleAssignments" \
    --query "value[?resourceId=='$api_sp' && appRoleId=='$role_id'].id | [0]" --output tsv 2>/dev/null) && break
  tries=$((tries + 1))
  if [ "$tries" -ge 30 ]; then
    echo "postprovision: the Logic App's identity $LOGIC_APP_PRINCIPAL_ID is not in Microsoft Graph yet; run azd provision again" >&2
    exit 1
  fi
  sleep 10
done

if [ -n "$existing" ]; then
  echo "postprovision: the Logic App's identity already has $role_value"
  exit 0
fi

az rest --method POST --uri "$graph/v1.0/servicePrincipals/$api_sp/appRoleAssignedTo" \
  --headers "Content-Type=application/json" \
  --body "{\"principalId\": \"$LOGIC_APP_PRINCIPAL_ID\", \"resourceId\": \"$api_sp\", \"appRoleId\": \"$role_id\"}" \
  --output none
echo "postprovision: gave the Logic App's identity $role_value on the API"
