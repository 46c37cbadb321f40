"""The Azure resources as code, in three equivalent forms: Azure CLI script, Bicep, Python SDK script.

All three create the same things from one `DeploySettings`: resource group, Log Analytics workspace,
container registry (admin user off), a managed identity with AcrPull, the Container Apps environment
and the container app with its HTTP scale rule (min/max replicas, concurrent requests, cooldown,
polling). The CLI script re-asserts and verifies the cooldown after every create/update
(`assert_scale`, `verify_scale`); the SDK script reads it back. `runners.py` runs both for real
against local stand-ins (a stub `az`, an ARM endpoint on 127.0.0.1).
"""

from __future__ import annotations

import json

from labs.keda_autoscaling.settings import ACR_PULL_ROLE_ID, API_VERSIONS, DeploySettings


def render_cli_script(s: DeploySettings) -> str:
    """Azure CLI: every resource, the HTTP scale rule, and the cooldown re-asserted and verified."""
    return f'''#!/usr/bin/env bash
# Deploy {s.app} to Azure Container Apps with KEDA HTTP autoscaling ({s.min_replicas}..{s.max_replicas} replicas,
# {s.concurrency} concurrent requests per replica, back to {s.min_replicas} after {s.cooldown_s} s without requests).
#
#   ./deploy_aca.sh            create everything, build the image in ACR, deploy, verify the scale settings
#   ./deploy_aca.sh redeploy v2  build tag v2, roll it out, and re-assert the cooldown (see below)
#   ./deploy_aca.sh verify       only read the scale settings back; fails if the cooldown drifted
#
# Needs: az (logged in with `az login`), the containerapp extension, and app.py/Dockerfile in this folder.
set -euo pipefail

RG="{s.resource_group}"
LOCATION="{s.location}"
ACR="{s.registry}"
LAW="{s.workspace}"
ENV_NAME="{s.environment}"
APP="{s.app}"
IMAGE="{s.image}"
TAG="${{2:-{s.tag}}}"
MIN_REPLICAS={s.min_replicas}
MAX_REPLICAS={s.max_replicas}
CONCURRENCY={s.concurrency}
COOLDOWN={s.cooldown_s}
POLLING={s.polling_s}
API_VERSION="{API_VERSIONS["Microsoft.App/containerApps"]}"

# Trap: `az containerapp update --image` has been reported to reset scale.cooldownPeriod to the
# default 300 (Azure/azure-cli-extensions#10334). verify_scale reads the settings back and fails if
# they drifted; assert_scale sets them again first. Both run after every create/update, so
# "scale to zero after {s.cooldown_s} s" stays true.
verify_scale() {{
  local current
  current=$(az containerapp show -g "$RG" -n "$APP" --query properties.template.scale.cooldownPeriod -o tsv)
  if [[ "$current" != "$COOLDOWN" ]]; then
    echo "cooldownPeriod is '$current', expected $COOLDOWN" >&2
    exit 1
  fi
  echo "scale verified: min=$MIN_REPLICAS max=$MAX_REPLICAS cooldown=$current s polling=$POLLING s"
}}

assert_scale() {{
  local app_id
  app_id=$(az containerapp show -g "$RG" -n "$APP" --query id -o tsv)
  az resource update --ids "$app_id" --api-version "$API_VERSION" \\
    --set properties.template.scale.cooldownPeriod="$COOLDOWN" \\
          properties.template.scale.pollingInterval="$POLLING" --output none
  verify_scale
}}

build_image() {{
  # ACR Tasks builds the Dockerfile in Azure: no Docker engine needed on this machine.
  az acr build --registry "$ACR" --image "$IMAGE:$TAG" .
}}

if [[ "${{1:-deploy}}" == "verify" ]]; then
  verify_scale
  exit 0
fi

if [[ "${{1:-deploy}}" == "redeploy" ]]; then
  build_image
  az containerapp update -g "$RG" -n "$APP" --image "$ACR.azurecr.io/$IMAGE:$TAG" --output none
  assert_scale
  exit 0
fi

az extension add --name containerapp --upgrade --only-show-errors
az provider register --namespace Microsoft.App --wait
az provider register --namespace Microsoft.OperationalInsights --wait

az group create --name "$RG" --location "$LOCATION" --tags lab=keda-autoscaling --output none

az monitor log-analytics workspace create -g "$RG" -n "$LAW" --location "$LOCATION" --output none
LAW_ID=$(az monitor log-analytics workspace show -g "$RG" -n "$LAW" --query customerId -o tsv)
# The key goes straight into the next command; it is never printed.
LAW_KEY=$(az monitor log-analytics workspace get-shared-keys -g "$RG" -n "$LAW" --query primarySharedKey -o tsv)

az acr create -g "$RG" -n "$ACR" --sku Basic --admin-enabled false --location "$LOCATION" --output none
build_image

az containerapp env create -g "$RG" -n "$ENV_NAME" --location "$LOCATION" \\
  --logs-workspace-id "$LAW_ID" --logs-workspace-key "$LAW_KEY" --output none

# --registry-identity system: the app gets a system-assigned identity with AcrPull on the registry.
az containerapp create -g "$RG" -n "$APP" --environment "$ENV_NAME" \\
  --image "$ACR.azurecr.io/$IMAGE:$TAG" \\
  --registry-server "$ACR.azurecr.io" --registry-identity system \\
  --ingress external --target-port {s.port} \\
  --cpu {s.cpu:g} --memory {s.memory_gi:g}Gi \\
  --env-vars WORK_MS={s.work_ms} \\
  --min-replicas "$MIN_REPLICAS" --max-replicas "$MAX_REPLICAS" \\
  --scale-rule-name http-concurrency --scale-rule-type http \\
  --scale-rule-http-concurrency "$CONCURRENCY" --output none

assert_scale

FQDN=$(az containerapp show -g "$RG" -n "$APP" --query properties.configuration.ingress.fqdn -o tsv)
echo "App: https://$FQDN  (first request after idle waits for a cold start)"
'''


def render_bicep(s: DeploySettings) -> str:
    """Bicep for a resource group: workspace, registry, identity + AcrPull, environment, app."""
    v = API_VERSIONS
    tags = "\n".join(f"  {k}: '{val}'" for k, val in s.tags.items())
    return f'''// {s.app} on Azure Container Apps with a KEDA HTTP scale rule.
// Deploy into an existing resource group:
//   az group create -n {s.resource_group} -l {s.location}
//   az deployment group create -g {s.resource_group} -f main.bicep
// The image must exist in the registry first (az acr build ...), or the first revision cannot start.

@description('Region for every resource.')
param location string = resourceGroup().location

@minValue(0)
@maxValue(1000)
param minReplicas int = {s.min_replicas}

@minValue(1)
@maxValue(1000)
param maxReplicas int = {s.max_replicas}

@description('Concurrent requests per replica before another replica is added.')
@minValue(1)
param concurrentRequests int = {s.concurrency}

@description('Seconds without requests before the last replica is removed (1 -> 0 only).')
param cooldownPeriod int = {s.cooldown_s}

@description('Seconds between KEDA polls of the scale rule.')
param pollingInterval int = {s.polling_s}

param imageTag string = '{s.tag}'

var tags = {{
{tags}
}}
var acrPullRole = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '{ACR_PULL_ROLE_ID}')

resource workspace 'Microsoft.OperationalInsights/workspaces@{v["Microsoft.OperationalInsights/workspaces"]}' = {{
  name: '{s.workspace}'
  location: location
  tags: tags
  properties: {{
    sku: {{
      name: 'PerGB2018'
    }}
    retentionInDays: 30
  }}
}}

resource registry 'Microsoft.ContainerRegistry/registries@{v["Microsoft.ContainerRegistry/registries"]}' = {{
  name: '{s.registry}'
  location: location
  tags: tags
  sku: {{
    name: 'Basic'
  }}
  properties: {{
    adminUserEnabled: false
  }}
}}

// A user-assigned identity exists before the app, so the first revision can already pull.
resource pullIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@{v["Microsoft.ManagedIdentity/userAssignedIdentities"]}' = {{
  name: '{s.identity}'
  location: location
  tags: tags
}}

resource acrPull 'Microsoft.Authorization/roleAssignments@{v["Microsoft.Authorization/roleAssignments"]}' = {{
  name: guid(registry.id, pullIdentity.id, acrPullRole)
  scope: registry
  properties: {{
    roleDefinitionId: acrPullRole
    principalId: pullIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }}
}}

resource environment 'Microsoft.App/managedEnvironments@{v["Microsoft.App/managedEnvironments"]}' = {{
  name: '{s.environment}'
  location: location
  tags: tags
  properties: {{
    appLogsConfiguration: {{
      destination: 'log-analytics'
      logAnalyticsConfiguration: {{
        customerId: workspace.properties.customerId
        sharedKey: workspace.listKeys().primarySharedKey
      }}
    }}
  }}
}}

resource app 'Microsoft.App/containerApps@{v["Microsoft.App/containerApps"]}' = {{
  name: '{s.app}'
  location: location
  tags: tags
  identity: {{
    type: 'UserAssigned'
    userAssignedIdentities: {{
      '${{pullIdentity.id}}': {{}}
    }}
  }}
  dependsOn: [
    acrPull
  ]
  properties: {{
    managedEnvironmentId: environment.id
    configuration: {{
      activeRevisionsMode: 'Single'
      ingress: {{
        external: true
        targetPort: {s.port}
        transport: 'auto'
      }}
      registries: [
        {{
          server: registry.properties.loginServer
          identity: pullIdentity.id
        }}
      ]
    }}
    template: {{
      containers: [
        {{
          name: '{s.app}'
          image: '${{registry.properties.loginServer}}/{s.image}:${{imageTag}}'
          resources: {{
            cpu: json('{s.cpu:g}')
            memory: '{s.memory_gi:g}Gi'
          }}
          env: [
            {{
              name: 'WORK_MS'
              value: '{s.work_ms}'
            }}
          ]
          probes: [
            {{
              type: 'Liveness'
              httpGet: {{
                path: '/healthz'
                port: {s.port}
              }}
              periodSeconds: 10
            }}
            {{
              type: 'Readiness'
              httpGet: {{
                path: '/healthz'
                port: {s.port}
              }}
              periodSeconds: 5
            }}
          ]
        }}
      ]
      scale: {{
        minReplicas: minReplicas
        maxReplicas: maxReplicas
        cooldownPeriod: cooldownPeriod
        pollingInterval: pollingInterval
        rules: [
          {{
            name: 'http-concurrency'
            http: {{
              metadata: {{
                concurrentRequests: string(concurrentRequests)
              }}
            }}
          }}
        ]
      }}
    }}
  }}
}}

output url string = 'https://${{app.properties.configuration.ingress.fqdn}}'
'''


def render_sdk_script(s: DeploySettings) -> str:
    """Python with the Azure management SDK: the same resources as the Bicep file, as model objects."""
    cfg = {
        "subscription_env": "AZURE_SUBSCRIPTION_ID",
        "resource_group": s.resource_group, "location": s.location, "registry": s.registry,
        "workspace": s.workspace, "environment": s.environment, "app": s.app, "identity": s.identity,
        "image": s.image, "tag": s.tag,
    }
    return f'''"""Create {s.app}'s Azure resources with the Azure management SDK for Python.

    pip install azure-identity azure-mgmt-resource azure-mgmt-loganalytics azure-mgmt-containerregistry \\
        azure-mgmt-msi azure-mgmt-authorization azure-mgmt-appcontainers
    export AZURE_SUBSCRIPTION_ID=...
    python deploy_aca.py infra     # resource group, workspace, registry, identity + AcrPull, environment
    az acr build --registry {s.registry} --image {s.image}:{s.tag} .   # build the image in Azure
    python deploy_aca.py app       # the container app with its HTTP scale rule; verifies the cooldown

`build_models()` builds every request body with the SDK's own model classes and needs no network,
so it can be checked offline; `deploy()` sends them.
"""

from __future__ import annotations

import os
import sys
import uuid

RESOURCE_GROUP = {cfg["resource_group"]!r}
LOCATION = {cfg["location"]!r}
REGISTRY = {cfg["registry"]!r}
WORKSPACE = {cfg["workspace"]!r}
ENVIRONMENT = {cfg["environment"]!r}
APP = {cfg["app"]!r}
IDENTITY = {cfg["identity"]!r}
IMAGE = f"{{REGISTRY}}.azurecr.io/{s.image}:{s.tag}"
TAGS = {json.dumps(s.tags)}
MIN_REPLICAS = {s.min_replicas}
MAX_REPLICAS = {s.max_replicas}
CONCURRENT_REQUESTS = {s.concurrency}
COOLDOWN_S = {s.cooldown_s}
POLLING_S = {s.polling_s}
ACR_PULL_ROLE_ID = "{ACR_PULL_ROLE_ID}"


def build_models(*, identity_id: str = "<identity-resource-id>", principal_id: str = "<principal-id>",
                 registry_id: str = "<registry-resource-id>", environment_id: str = "<environment-id>",
                 law_customer_id: str = "<workspace-customer-id>", law_key: str = "<workspace-key>",
                 subscription_id: str = "<subscription-id>") -> dict:
    """Every request body, as SDK model objects (no network)."""
    from azure.mgmt.appcontainers import models as aca
    from azure.mgmt.authorization.models import RoleAssignmentCreateParameters
    from azure.mgmt.containerregistry.models import Registry, Sku
    from azure.mgmt.loganalytics.models import Workspace, WorkspaceSku
    from azure.mgmt.msi.models import Identity
    from azure.mgmt.resource.resources.models import ResourceGroup

    scale = aca.Scale(
        min_replicas=MIN_REPLICAS,
        max_replicas=MAX_REPLICAS,
        cooldown_period=COOLDOWN_S,  # applies only to the last replica: 1 -> 0
        polling_interval=POLLING_S,
        rules=[aca.ScaleRule(name="http-concurrency",
                             http=aca.HttpScaleRule(metadata={{"concurrentRequests": str(CONCURRENT_REQUESTS)}}))],
    )
    probe = aca.ContainerAppProbeHttpGet(path="/healthz", port={s.port})
    container_app = aca.ContainerApp(
        location=LOCATION,
        tags=TAGS,
        identity=aca.ManagedServiceIdentity(type="UserAssigned", user_assigned_identities={{identity_id: {{}}}}),
        properties=aca.ContainerAppProperties(
            managed_environment_id=environment_id,
            configuration=aca.Configuration(
                active_revisions_mode="Single",
                ingress=aca.Ingress(external=True, target_port={s.port}, transport="auto"),
                registries=[aca.RegistryCredentials(server=f"{{REGISTRY}}.azurecr.io", identity=identity_id)],
            ),
            template=aca.Template(
                containers=[aca.Container(
                    name=APP, image=IMAGE,
                    resources=aca.ContainerResources(cpu={s.cpu:g}, memory="{s.memory_gi:g}Gi"),
                    env=[aca.EnvironmentVar(name="WORK_MS", value="{s.work_ms}")],
                    probes=[aca.ContainerAppProbe(type="Liveness", http_get=probe, period_seconds=10),
                            aca.ContainerAppProbe(type="Readiness", http_get=probe, period_seconds=5)],
                )],
                scale=scale,
            ),
        ),
    )
    return {{
        "resource_group": ResourceGroup(location=LOCATION, tags=TAGS),
        "workspace": Workspace(location=LOCATION, tags=TAGS, sku=WorkspaceSku(name="PerGB2018"), retention_in_days=30),
        "registry": Registry(location=LOCATION, tags=TAGS, sku=Sku(name="Basic"), admin_user_enabled=False),
        "identity": Identity(location=LOCATION, tags=TAGS),
        "acr_pull": RoleAssignmentCreateParameters(
            role_definition_id=f"/subscriptions/{{subscription_id}}/providers/Microsoft.Authorization/roleDefinitions/{{ACR_PULL_ROLE_ID}}",
            principal_id=principal_id, principal_type="ServicePrincipal"),
        "environment": aca.ManagedEnvironment(
            location=LOCATION, tags=TAGS,
            properties=aca.ManagedEnvironmentProperties(app_logs_configuration=aca.AppLogsConfiguration(
                destination="log-analytics",
                log_analytics_configuration=aca.LogAnalyticsConfiguration(customer_id=law_customer_id, shared_key=law_key)))),
        "container_app": container_app,
    }}


def deploy(phase: str, *, credential=None, base_url: str | None = None, **client_options) -> None:
    """Send the models to Azure. `phase` is "infra" or "app".

    `credential` defaults to DefaultAzureCredential (az login, environment, managed identity);
    `base_url` defaults to the public ARM endpoint (pass another cloud's, or a test server's);
    `client_options` go to every client (e.g. `polling_interval`).
    """
    from azure.mgmt.appcontainers import ContainerAppsAPIClient
    from azure.mgmt.authorization import AuthorizationManagementClient
    from azure.mgmt.containerregistry import ContainerRegistryManagementClient
    from azure.mgmt.loganalytics import LogAnalyticsManagementClient
    from azure.mgmt.msi import ManagedServiceIdentityClient
    from azure.mgmt.resource.resources import ResourceManagementClient

    sub = os.environ.get("AZURE_SUBSCRIPTION_ID")
    if not sub:
        sys.exit("Set AZURE_SUBSCRIPTION_ID first (az account show --query id -o tsv).")
    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    cred = credential
    opts = {{**client_options, **({{"base_url": base_url}} if base_url else {{}})}}
    msi = ManagedServiceIdentityClient(cred, sub, **opts)
    aca_client = ContainerAppsAPIClient(cred, sub, **opts)
    if phase == "infra":
        models = build_models(subscription_id=sub)
        ResourceManagementClient(cred, sub, **opts).resource_groups.create_or_update(RESOURCE_GROUP, models["resource_group"])
        law_client = LogAnalyticsManagementClient(cred, sub, **opts)
        law = law_client.workspaces.begin_create_or_update(RESOURCE_GROUP, WORKSPACE, models["workspace"]).result()
        key = law_client.shared_keys.get_shared_keys(RESOURCE_GROUP, WORKSPACE).primary_shared_key
        registry = ContainerRegistryManagementClient(cred, sub, **opts).registries.begin_create(
            RESOURCE_GROUP, REGISTRY, models["registry"]).result()
        ident = msi.user_assigned_identities.create_or_update(RESOURCE_GROUP, IDENTITY, models["identity"])
        models = build_models(identity_id=ident.id, principal_id=ident.principal_id, registry_id=registry.id,
                              law_customer_id=law.customer_id, law_key=key, subscription_id=sub)
        AuthorizationManagementClient(cred, sub, **opts).role_assignments.create(
            registry.id, str(uuid.uuid5(uuid.NAMESPACE_URL, registry.id + ident.id)), models["acr_pull"])
        aca_client.managed_environments.begin_create_or_update(
            RESOURCE_GROUP, ENVIRONMENT, models["environment"]).result()
        print("infra ready; now build the image: az acr build --registry", REGISTRY, "--image {s.image}:{s.tag} .")
        return
    ident = msi.user_assigned_identities.get(RESOURCE_GROUP, IDENTITY)
    env = aca_client.managed_environments.get(RESOURCE_GROUP, ENVIRONMENT)
    models = build_models(identity_id=ident.id, environment_id=env.id, subscription_id=sub)
    aca_client.container_apps.begin_create_or_update(RESOURCE_GROUP, APP, models["container_app"]).result()
    # Read back: the cooldown must be what we asked for (updates elsewhere have reset it to 300).
    scale = aca_client.container_apps.get(RESOURCE_GROUP, APP).properties.template.scale
    if scale.cooldown_period != COOLDOWN_S:
        sys.exit(f"cooldownPeriod is {{scale.cooldown_period}}, expected {{COOLDOWN_S}}")
    print(f"scale verified: {{scale.min_replicas}}..{{scale.max_replicas}} replicas, cooldown {{scale.cooldown_period}} s")


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("infra", "app"):
        sys.exit("usage: python deploy_aca.py infra|app")
    deploy(sys.argv[1])
'''
