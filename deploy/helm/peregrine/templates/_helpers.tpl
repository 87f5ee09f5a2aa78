{{- define "peregrine.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "peregrine.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "peregrine.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "peregrine.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "peregrine.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "peregrine.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels; call with (dict "ctx" . "component" "router") */}}
{{- define "peregrine.selectorLabels" -}}
app.kubernetes.io/name: {{ include "peregrine.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "peregrine.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "peregrine.secretName" -}}
{{- default (printf "%s-auth" (include "peregrine.fullname" .)) .Values.auth.existingSecret -}}
{{- end -}}

{{- define "peregrine.routerUrl" -}}
{{- printf "http://%s-router.%s.svc:%d" (include "peregrine.fullname" .) .Release.Namespace (int .Values.router.port) -}}
{{- end -}}

{{/* The token from the Secret, as INGEST_TOKEN (config reads it as ${INGEST_TOKEN}; a PEREGRINE_ name would read as a config key override). */}}
{{- define "peregrine.tokenEnv" -}}
- name: INGEST_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "peregrine.secretName" . }}
      key: {{ .Values.auth.existingSecretKey }}
{{- end -}}
