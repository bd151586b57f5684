{{- /*
SPDX-License-Identifier: Apache-2.0
Copyright The Bulkhead Authors

Names, labels and references shared by every template. Nothing here renders
an object or fails: templates/validate.yaml alone judges the values.
*/ -}}

{{/* The release's base name: the release name, with the chart's name when it lacks it (63-char DNS label). */}}
{{- define "bulkhead.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object: the Kubernetes recommended set plus commonLabels. */}}
{{- define "bulkhead.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: bulkhead
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* A component's selector labels (stable across upgrades: never add to them). Call with (dict "ctx" $ "component" "cven"). */}}
{{- define "bulkhead.selectorLabels" -}}
app.kubernetes.io/name: {{ .ctx.Chart.Name }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* A component's labels: the common set plus its component. Call as selectorLabels. */}}
{{- define "bulkhead.componentLabels" -}}
{{ include "bulkhead.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* A top-level object's metadata.annotations from commonAnnotations, or nothing; follows the labels. */}}
{{- define "bulkhead.annotations" -}}
{{- with .Values.commonAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
{{- end }}
{{- end -}}

{{/* An image reference; the tag defaults to the chart's appVersion. Call with (dict "ctx" $ "image" .Values.cven.image). */}}
{{- define "bulkhead.image" -}}
{{- printf "%s:%s" .image.repository (default .ctx.Chart.AppVersion .image.tag) -}}
{{- end -}}

{{/* The ConfigMap with the PCE's CA (key ca.pem): the user's or the chart's. */}}
{{- define "bulkhead.caConfigMap" -}}
{{- default (printf "%s-pce-ca" (include "bulkhead.fullname" .)) .Values.pceCaExistingConfigMap -}}
{{- end -}}

{{/* The Secret with the cluster token (key cluster-token): the user's or the chart's. */}}
{{- define "bulkhead.clusterTokenSecret" -}}
{{- default (printf "%s-cluster-token" (include "bulkhead.fullname" .)) .Values.clusterTokenExistingSecret -}}
{{- end -}}

{{/* The Secret with the activation code (key activation-code): the user's or the chart's. */}}
{{- define "bulkhead.activationCodeSecret" -}}
{{- default (printf "%s-activation-code" (include "bulkhead.fullname" .)) .Values.activationCodeExistingSecret -}}
{{- end -}}

{{/* Kubelink's ServiceAccount. */}}
{{- define "bulkhead.kubelinkServiceAccount" -}}
{{- default (printf "%s-kubelink" (include "bulkhead.fullname" .)) .Values.kubelink.serviceAccountName -}}
{{- end -}}

{{/* Where both agents read the PCE's CA inside their containers (the CA ConfigMap's mount). */}}
{{- define "bulkhead.caPath" -}}/etc/bulkhead/pce-ca/ca.pem{{- end -}}
