{{/* The release's name for its objects, at most 63 characters. */}}
{{- define "hydracore.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The labels that pick this release's pods: the Service, the PDB and the spread select by these. */}}
{{- define "hydracore.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Every object's labels. */}}
{{- define "hydracore.labels" -}}
{{ include "hydracore.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The image reference. */}}
{{- define "hydracore.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* One environment variable read from the shared Secret. */}}
{{- define "hydracore.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: {{ .key }}
{{- end -}}

{{/* What every node and the migration Job must share, from the Secret. */}}
{{- define "hydracore.sharedEnv" -}}
{{- $secret := required "secret.name: the Secret holding DATABASE_URL and the shared keys" .Values.secret.name -}}
{{- range $name, $key := .Values.secret.keys }}
{{ include "hydracore.secretEnv" (dict "name" $name "secret" $secret "key" $key) }}
{{- end }}
{{- end -}}

{{/* The pod's and the container's security settings: non-root, read-only root, nothing extra. */}}
{{- define "hydracore.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "hydracore.containerSecurityContext" -}}
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop: ["ALL"]
{{- end -}}
