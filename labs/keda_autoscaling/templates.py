"""Generators for everything the deployment needs, all rendered from one `DeploySettings`.

The deployable app (`app.py`, `requirements.txt`, `Dockerfile`), the Azure resources in three
equivalent forms (Azure CLI script, Bicep, Python with the Azure management SDK) and the
Kubernetes/KEDA variant for AKS (Deployment, Service, the HTTP add-on's `InterceptorRoute` and a
KEDA `ScaledObject`). Names reach these templates only after `settings.check_settings` has matched
them against Azure's naming rules, so nothing typed in the UI can break out of a quoted string.

The pipeline they describe: build the image in Azure Container Registry (`az acr build`, no local
Docker needed), pull it with a managed identity that holds AcrPull (no registry passwords), run it
in a Container Apps environment that logs to Log Analytics, and let KEDA's HTTP rule scale it
between min and max replicas by concurrent requests.
"""

from __future__ import annotations

import io
import json
import shutil
import time
import uuid
import zipfile
from pathlib import Path

from labs.keda_autoscaling.settings import ACR_PULL_ROLE_ID, API_VERSIONS, DeploySettings

GRADIO_PIN = "gradio==6.31.0"
KEDA_HTTP_SCALER = "keda-add-ons-http-external-scaler.keda:9090"  # the add-on's external scaler service


def render_app_py(s: DeploySettings) -> str:
    """The deployable app: a Gradio UI plus /healthz and a /work endpoint that 'waits' like a slow backend."""
    return f'''"""{s.app}: a small Gradio app that scales on Azure Container Apps by concurrent HTTP requests.

Routes: /healthz (probes), /work?ms=N (one "web wait": holds the request N ms, like a call to a slow
backend or a model), and the Gradio UI at /. Run it locally with `python app.py`.
"""

import asyncio
import os
import socket
import time

import gradio as gr
import uvicorn
from fastapi import FastAPI

PORT = int(os.environ.get("PORT", "{s.port}"))
HOST = os.environ.get("HOST", "0.0.0.0")  # 0.0.0.0 inside the container so ingress can reach it
WORK_MS = int(os.environ.get("WORK_MS", "{s.work_ms}"))
MAX_WORK_MS = 10_000  # one request can hold a replica for at most 10 s
REPLICA = os.environ.get("CONTAINER_APP_REPLICA_NAME", socket.gethostname())
STARTED = time.time()
in_flight = 0  # concurrent requests on this replica: the number KEDA's HTTP rule scales on

app = FastAPI(title="{s.app}")


@app.get("/healthz")
def healthz() -> dict:
    """Liveness/readiness probe target: cheap, never waits."""
    return {{"status": "ok", "replica": REPLICA, "uptime_s": round(time.time() - STARTED, 1)}}


@app.get("/work")
async def work(ms: int = WORK_MS) -> dict:
    """One web wait: the request stays open `ms` milliseconds without using CPU."""
    global in_flight
    ms = max(0, min(int(ms), MAX_WORK_MS))
    in_flight += 1
    try:
        await asyncio.sleep(ms / 1000)
    finally:
        in_flight -= 1
    return {{"waited_ms": ms, "replica": REPLICA, "in_flight": in_flight}}


def wait_once(ms: float) -> str:
    """What the button does: one web wait, timed."""
    start = time.perf_counter()
    time.sleep(max(0.0, min(float(ms), MAX_WORK_MS)) / 1000)
    return f"Waited {{(time.perf_counter() - start) * 1000:.0f}} ms on replica {{REPLICA}}."


with gr.Blocks(title="{s.app}") as demo:
    gr.Markdown("# {s.app}\\nEach click holds one request open; many at once make Container Apps add replicas.")
    ms_box = gr.Slider(0, MAX_WORK_MS, value=WORK_MS, step=50, label="Wait (ms)")
    out = gr.Textbox(label="Result")
    gr.Button("Wait").click(wait_once, ms_box, out, api_name="wait")

demo.queue(default_concurrency_limit=64)
app = gr.mount_gradio_app(app, demo, path="/")

if __name__ == "__main__":
    uvicorn.run(app, host=HOST, port=PORT, log_level="info")
'''


def render_requirements(s: DeploySettings) -> str:
    """Pinned gradio (same as this suite), plus the server pieces app.py imports directly."""
    return f"{GRADIO_PIN}\nfastapi>=0.115\nuvicorn>=0.30\n"


def render_dockerfile(s: DeploySettings) -> str:
    """A slim, non-root image with a health check. Container Apps uses the probes in Bicep/CLI; the
    HEALTHCHECK serves `docker run` and other hosts."""
    return f'''# syntax=docker/dockerfile:1
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \\
    PYTHONUNBUFFERED=1 \\
    PIP_NO_CACHE_DIR=1 \\
    GRADIO_ANALYTICS_ENABLED=False \\
    PORT={s.port}

WORKDIR /app

# A system user without a login shell: the app never needs root. A numeric id lets Kubernetes'
# runAsNonRoot verify it without reading /etc/passwd.
RUN groupadd --system --gid 10001 app \\
    && useradd --system --uid 10001 --gid app --no-create-home --shell /usr/sbin/nologin app

# Dependencies first, so code changes do not rebuild this layer.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY --chown=10001:10001 app.py .

USER 10001:10001
EXPOSE {s.port}

HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \\
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '{s.port}') + '/healthz', timeout=2)"]

CMD ["python", "app.py"]
'''


def render_cli_script(s: DeploySettings) -> str:
    """Azure CLI: every resource, the HTTP scale rule, and the cooldown re-asserted and verified."""
    return f'''#!/usr/bin/env bash
# Deploy {s.app} to Azure Container Apps with KEDA HTTP autoscaling ({s.min_replicas}..{s.max_replicas} replicas,
# {s.concurrency} concurrent requests per replica, back to {s.min_replicas} after {s.cooldown_s} s without requests).
#
#   ./deploy_aca.sh            create everything, build the image in ACR, deploy, verify the scale settings
#   ./deploy_aca.sh redeploy v2  build tag v2, roll it out, and re-assert the cooldown (see below)
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
# default 300 (Azure/azure-cli-extensions#10334). Setting and then reading it back after every
# create/update keeps "scale to zero after {s.cooldown_s} s" true.
assert_scale() {{
  local app_id current
  app_id=$(az containerapp show -g "$RG" -n "$APP" --query id -o tsv)
  az resource update --ids "$app_id" --api-version "$API_VERSION" \\
    --set properties.template.scale.cooldownPeriod="$COOLDOWN" \\
          properties.template.scale.pollingInterval="$POLLING" --output none
  current=$(az containerapp show -g "$RG" -n "$APP" --query properties.template.scale.cooldownPeriod -o tsv)
  if [[ "$current" != "$COOLDOWN" ]]; then
    echo "cooldownPeriod is '$current', expected $COOLDOWN" >&2
    exit 1
  fi
  echo "scale verified: min=$MIN_REPLICAS max=$MAX_REPLICAS cooldown=$current s polling=$POLLING s"
}}

build_image() {{
  # ACR Tasks builds the Dockerfile in Azure: no Docker engine needed on this machine.
  az acr build --registry "$ACR" --image "$IMAGE:$TAG" .
}}

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


def deploy(phase: str) -> None:
    """Send the models to Azure. `phase` is "infra" or "app"."""
    from azure.identity import DefaultAzureCredential
    from azure.mgmt.appcontainers import ContainerAppsAPIClient
    from azure.mgmt.authorization import AuthorizationManagementClient
    from azure.mgmt.containerregistry import ContainerRegistryManagementClient
    from azure.mgmt.loganalytics import LogAnalyticsManagementClient
    from azure.mgmt.msi import ManagedServiceIdentityClient
    from azure.mgmt.resource.resources import ResourceManagementClient

    sub = os.environ.get("AZURE_SUBSCRIPTION_ID")
    if not sub:
        sys.exit("Set AZURE_SUBSCRIPTION_ID first (az account show --query id -o tsv).")
    cred = DefaultAzureCredential()
    msi = ManagedServiceIdentityClient(cred, sub)
    aca_client = ContainerAppsAPIClient(cred, sub)
    if phase == "infra":
        models = build_models(subscription_id=sub)
        ResourceManagementClient(cred, sub).resource_groups.create_or_update(RESOURCE_GROUP, models["resource_group"])
        law_client = LogAnalyticsManagementClient(cred, sub)
        law = law_client.workspaces.begin_create_or_update(RESOURCE_GROUP, WORKSPACE, models["workspace"]).result()
        key = law_client.shared_keys.get_shared_keys(RESOURCE_GROUP, WORKSPACE).primary_shared_key
        registry = ContainerRegistryManagementClient(cred, sub).registries.begin_create(
            RESOURCE_GROUP, REGISTRY, models["registry"]).result()
        ident = msi.user_assigned_identities.create_or_update(RESOURCE_GROUP, IDENTITY, models["identity"])
        models = build_models(identity_id=ident.id, principal_id=ident.principal_id, registry_id=registry.id,
                              law_customer_id=law.customer_id, law_key=key, subscription_id=sub)
        AuthorizationManagementClient(cred, sub).role_assignments.create(
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


def render_k8s_app(s: DeploySettings) -> str:
    """AKS variant, part 1: a non-root Deployment with probes, and its Service."""
    return f'''# {s.app} on AKS: the workload. Scaling is in keda-http.yaml (needs KEDA + the HTTP add-on).
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {s.app}
  labels:
    app: {s.app}
spec:
  replicas: {s.min_replicas}
  selector:
    matchLabels:
      app: {s.app}
  template:
    metadata:
      labels:
        app: {s.app}
    spec:
      securityContext:
        runAsNonRoot: true
      containers:
        - name: {s.app}
          image: {s.full_image}
          ports:
            - name: http
              containerPort: {s.port}
          env:
            - name: WORK_MS
              value: "{s.work_ms}"
          resources:
            requests:
              cpu: "{int(s.cpu * 1000)}m"
              memory: "{int(s.memory_gi * 1024)}Mi"
            limits:
              memory: "{int(s.memory_gi * 1024)}Mi"
          securityContext:
            allowPrivilegeEscalation: false
          readinessProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 5
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 10
---
apiVersion: v1
kind: Service
metadata:
  name: {s.app}
spec:
  selector:
    app: {s.app}
  ports:
    - name: http
      port: 80
      targetPort: http
'''


def render_k8s_keda(s: DeploySettings) -> str:
    """AKS variant, part 2: the HTTP add-on's InterceptorRoute plus the KEDA ScaledObject that scales on it."""
    return f'''# KEDA HTTP add-on: route requests through the interceptor and scale on their concurrency.
# Send traffic to the interceptor service (keda-add-ons-http-interceptor-proxy in namespace keda)
# with Host: {s.app}.example.com; it holds requests while the app scales up from zero.
apiVersion: http.keda.sh/v1beta1
kind: InterceptorRoute
metadata:
  name: {s.app}
spec:
  target:
    service: {s.app}
    port: 80
  rules:
    - hosts:
        - {s.app}.example.com
  scalingMetric:
    concurrency:
      targetValue: {s.concurrency}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: {s.app}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {s.app}
  minReplicaCount: {s.min_replicas}
  maxReplicaCount: {s.max_replicas}
  pollingInterval: {s.polling_s}
  cooldownPeriod: {s.cooldown_s}  # KEDA applies it only to the last replica (1 -> 0)
  advanced:
    horizontalPodAutoscalerConfig:
      behavior:
        scaleDown:
          stabilizationWindowSeconds: {s.stabilisation_s}  # N -> N-1 is the HPA's job
  triggers:
    - type: external-push
      metadata:
        scalerAddress: {KEDA_HTTP_SCALER}
        interceptorRoute: {s.app}
'''


# file name -> (renderer, language for display)
FILES = {
    "app.py": (render_app_py, "python"),
    "requirements.txt": (render_requirements, None),
    "Dockerfile": (render_dockerfile, "dockerfile"),
    "deploy_aca.sh": (render_cli_script, "shell"),
    "main.bicep": (render_bicep, None),
    "deploy_aca.py": (render_sdk_script, "python"),
    "k8s-app.yaml": (render_k8s_app, "yaml"),
    "keda-http.yaml": (render_k8s_keda, "yaml"),
}


def generate_bundle(s: DeploySettings) -> dict[str, str]:
    """Render every file for `s`: {file name: text}."""
    return {name: render(s) for name, (render, _) in FILES.items()}


KEEP_S = 3600  # generated bundles are kept an hour: long enough to download, short enough not to pile up


def new_bundle_folder(root: str | Path | None = None, *, keep_s: float = KEEP_S, now: float | None = None) -> Path:
    """A fresh, uniquely named folder under ``root`` for one generation; folders older than ``keep_s`` are
    deleted first.

    ``root`` defaults to this lab's private scratch root (`shared.scratch.root_for`: one per OS user,
    mode 0700, never a link another user planted in the shared temp folder).
    """
    if root is None:
        from shared.scratch import root_for

        root = root_for("keda_autoscaling")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    now = time.time() if now is None else now
    for entry in root.iterdir():
        try:
            if entry.is_dir() and now - entry.stat().st_mtime > keep_s:
                shutil.rmtree(entry, ignore_errors=True)
        except FileNotFoundError:  # removed by a concurrent request
            pass
    folder = root / f"aca-keda-{uuid.uuid4().hex[:12]}"
    folder.mkdir()
    return folder


def write_bundle(files: dict[str, str], folder: str | Path) -> Path:
    """Write the files into `folder` and a zip of them beside; return the zip's path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        if name.endswith(".sh"):
            path.chmod(0o755)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            info = zipfile.ZipInfo(f"aca-keda/{name}")
            info.external_attr = (0o755 if name.endswith(".sh") else 0o644) << 16
            zf.writestr(info, text)
    zip_path = folder / "aca-keda-bundle.zip"
    zip_path.write_bytes(buffer.getvalue())
    return zip_path
