"""The AKS variant: a non-root Deployment and Service, the KEDA HTTP add-on's `InterceptorRoute` and a
KEDA `ScaledObject` whose `advanced.horizontalPodAutoscalerConfig` carries the HPA behaviour the
simulator models (`simulate.rule_with_hpa_config` reads it back).
"""

from __future__ import annotations

from labs.keda_autoscaling.settings import DeploySettings

KEDA_HTTP_SCALER = "keda-add-ons-http-external-scaler.keda:9090"  # the add-on's external scaler service


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
      behavior:  # KEDA hands this block to the HPA unchanged (the values are Kubernetes' defaults)
        scaleUp:
          stabilizationWindowSeconds: 0
          selectPolicy: Max  # whichever allows more: double, or +4 pods, per 15 s
          policies:
            - type: Percent
              value: 100
              periodSeconds: 15
            - type: Pods
              value: 4
              periodSeconds: 15
        scaleDown:
          stabilizationWindowSeconds: {s.stabilisation_s}  # N -> N-1 is the HPA's job
          policies:
            - type: Percent
              value: 100
              periodSeconds: 15
  triggers:
    - type: external-push
      metadata:
        scalerAddress: {KEDA_HTTP_SCALER}
        interceptorRoute: {s.app}
'''
