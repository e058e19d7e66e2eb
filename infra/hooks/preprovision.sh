#!/bin/sh
# azd preprovision hook: the API's Microsoft Entra app registration, before Bicep runs (Bicep cannot create an
# app registration without the Microsoft Graph extension, which comes from a registry we cannot reach).
#
# - Finds the registration by AUTH_CLIENT_ID, else by its display name order-events-api-<env>, else creates it.
# - Makes it what App Service Authentication and the code expect, on every run (idempotent): the app roles of
#   infra/generated/app-roles.json (npm run infra:generate, from src/shared/appRoles.ts), the identifier URI
#   api://<client id>, v2 access tokens (issuer login.microsoftonline.com/<tenant>/v2.0, audience the client
#   id), a delegated scope user_impersonation that the Azure CLI is pre-authorized for (so a person can get a
#   token with `az account get-access-token --resource api://<client id>`), and its service principal, to
#   which app roles are assigned, owned by the signed-in person.
# - Stores AUTH_CLIENT_ID in the azd environment when it is unset, and the three mailboxes (ALERT_EMAIL,
#   APPROVER_EMAIL, SUPPORT_EMAIL) as the signed-in user's address when they are unset.
# No secret is created: the API only validates tokens.
#
# Needs the Azure CLI signed in (az login) as someone who may create app registrations in the tenant.
set -eu

: "${AZURE_ENV_NAME:?run this through azd (azd provision or azd up)}"

roles_file=infra/generated/app-roles.json
display_name="order-events-api-${AZURE_ENV_NAME}"
# The Azure CLI's well-known public client id, pre-authorized for the API's delegated scope.
azure_cli_app_id=04b07795-8ddb-461a-bbee-02f9e1bf7b46

if ! az account show --output none 2>/dev/null; then
  echo "preprovision: the Azure CLI is not signed in: run az login (the hooks use it for Microsoft Entra ID and Graph)" >&2
  exit 1
fi
if [ ! -f "$roles_file" ]; then
  echo "preprovision: $roles_file is missing: run npm run infra:generate" >&2
  exit 1
fi

graph=$(az cloud show --query endpoints.microsoftGraphResourceId --output tsv)
graph=${graph%/}

# 1. The registration.
app_id=${AUTH_CLIENT_ID:-}
if [ -n "$app_id" ]; then
  if ! az ad app show --id "$app_id" --query appId --output tsv >/dev/null 2>&1; then
    echo "preprovision: AUTH_CLIENT_ID=$app_id names no app registration in this tenant;" \
      "run azd env set AUTH_CLIENT_ID '' to have one created" >&2
    exit 1
  fi
else
  app_id=$(az ad app list --display-name "$display_name" --query "[0].appId" --output tsv)
  if [ -z "$app_id" ]; then
    echo "preprovision: creating the app registration $display_name"
    app_id=$(az ad app create --display-name "$display_name" --sign-in-audience AzureADMyOrg \
      --app-roles "@$roles_file" --query appId --output tsv)
  fi
fi
object_id=$(az ad app show --id "$app_id" --query id --output tsv)

# 2. Its app roles and identifier URI (the same values again change nothing).
az ad app update --id "$app_id" --app-roles "@$roles_file" --identifier-uris "api://$app_id"

# 3. v2 tokens and the delegated scope, then the Azure CLI's pre-authorization for that scope (Graph refuses to
#    pre-authorize a scope in the request that creates it). The scope keeps its id across runs.
scope_id=$(az ad app show --id "$app_id" \
  --query "api.oauth2PermissionScopes[?value=='user_impersonation'].id | [0]" --output tsv)
if [ -z "$scope_id" ]; then
  scope_id=$(node -e 'console.log(require("node:crypto").randomUUID())')
fi
scope=$(cat <<JSON
{"id": "$scope_id", "value": "user_impersonation", "type": "User", "isEnabled": true,
 "adminConsentDisplayName": "Call the order API", "adminConsentDescription": "Call the order API as the signed-in user.",
 "userConsentDisplayName": "Call the order API", "userConsentDescription": "Call the order API as you."}
JSON
)
az rest --method PATCH --uri "$graph/v1.0/applications/$object_id" --headers "Content-Type=application/json" \
  --body "{\"api\": {\"requestedAccessTokenVersion\": 2, \"oauth2PermissionScopes\": [$scope]}}" --output none
az rest --method PATCH --uri "$graph/v1.0/applications/$object_id" --headers "Content-Type=application/json" \
  --body "{\"api\": {\"requestedAccessTokenVersion\": 2, \"oauth2PermissionScopes\": [$scope],
    \"preAuthorizedApplications\": [{\"appId\": \"$azure_cli_app_id\", \"delegatedPermissionIds\": [\"$scope_id\"]}]}}" \
  --output none

# 4. Its service principal (app roles are assigned to it), owned by the signed-in person, so that they may assign
#    its app roles (the postprovision hook does, to the Logic App's identity) without a directory role.
sp_id=$(az ad sp show --id "$app_id" --query id --output tsv 2>/dev/null || true)
if [ -z "$sp_id" ]; then
  sp_id=$(az ad sp create --id "$app_id" --query id --output tsv)
fi
me_id=$(az ad signed-in-user show --query id --output tsv 2>/dev/null || true)
if [ -n "$me_id" ]; then
  owner=$(az rest --method GET --uri "$graph/v1.0/servicePrincipals/$sp_id/owners?\$select=id" \
    --query "value[?id=='$me_id'].id | [0]" --output tsv)
  if [ -z "$owner" ]; then
    az rest --method POST --uri "$graph/v1.0/servicePrincipals/$sp_id/owners/\$ref" \
      --headers "Content-Type=application/json" \
      --body "{\"@odata.id\": \"$graph/v1.0/directoryObjects/$me_id\"}" --output none
  fi
fi

# 5. The azd environment: only what is unset.
if [ -z "${AUTH_CLIENT_ID:-}" ]; then
  azd env set AUTH_CLIENT_ID "$app_id"
fi
me=$(az ad signed-in-user show --query "mail || userPrincipalName" --output tsv 2>/dev/null || true)
for setting in ALERT_EMAIL APPROVER_EMAIL SUPPORT_EMAIL; do
  current=$(printenv "$setting" || true)
  if [ -z "$current" ]; then
    if [ -n "$me" ]; then
      azd env set "$setting" "$me"
    else
      echo "preprovision: $setting is unset and the signed-in account has no mailbox: set it with azd env set $setting <address>" >&2
    fi
  fi
done

echo "preprovision: the API's app registration is $display_name, client id $app_id (tokens for api://$app_id)"
