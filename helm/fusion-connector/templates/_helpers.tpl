{{/* Names and labels. */}}

{{- define "fusion-connector.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "fusion-connector.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "fusion-connector.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "fusion-connector.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fusion-connector.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "fusion-connector.labels" -}}
helm.sh/chart: {{ include "fusion-connector.chart" . }}
{{ include "fusion-connector.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: controller
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "fusion-connector.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "fusion-connector.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name: name the existing ServiceAccount when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "fusion-connector.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The cluster name of the configuration: config.cluster, else the release name. */}}
{{- define "fusion-connector.cluster" -}}
{{- default .Release.Name .Values.config.cluster }}
{{- end }}

{{/* The leader Lease, as the controller names it: fusion-connector-<cluster> with '_' as '-'. */}}
{{- define "fusion-connector.leaseName" -}}
{{- printf "fusion-connector-%s" (include "fusion-connector.cluster" .) | replace "_" "-" }}
{{- end }}

{{/* Where the configuration file is mounted. */}}
{{- define "fusion-connector.configPath" -}}
/etc/fusion-connector/config.yaml
{{- end }}

{{/* Where a device's CA bundle ConfigMap is mounted: /etc/fusion-connector/ca/<device>. */}}
{{- define "fusion-connector.caDir" -}}
{{- printf "/etc/fusion-connector/ca/%s" . }}
{{- end }}

{{/* The volume of a device's CA bundle: ca-<device> as a DNS label. */}}
{{- define "fusion-connector.caVolume" -}}
{{- printf "ca-%s" (. | replace "_" "-") | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Prefix of a device's environment variables: FC_<NAME> (upper case, '-' as '_'). */}}
{{- define "fusion-connector.envPrefix" -}}
{{- printf "FC_%s" (. | upper | replace "-" "_") }}
{{- end }}

{{/*
The Secret keys a device reads, as YAML {purpose: key} with purpose password, token or hmacSecret:
its secretKeys, else the defaults of its type when it names an existingSecret, else none.
*/}}
{{- define "fusion-connector.secretKeys" -}}
{{- if .secretKeys }}
{{- toYaml .secretKeys }}
{{- else if .existingSecret }}
{{- if eq .type "f5-as3" }}
password: password
{{- else }}
token: token
{{- end }}
{{- else }}
{}
{{- end }}
{{- end }}

{{/* Environment variable suffix of a secret purpose. */}}
{{- define "fusion-connector.envSuffix" -}}
{{- get (dict "password" "PASSWORD" "token" "TOKEN" "hmacSecret" "HMAC_SECRET") . }}
{{- end }}

{{/* The database URL of the configuration file (never with a password). */}}
{{- define "fusion-connector.databaseUrl" -}}
{{- if eq .Values.database.type "sqlite" }}
{{- printf "sqlite:///%s/%s" (trimSuffix "/" .Values.database.sqlite.mountPath) .Values.database.sqlite.fileName }}
{{- else }}
{{- $url := required "database.postgresql.url is required when database.type is postgresql (postgresql+psycopg://USER@HOST:5432/DB)" .Values.database.postgresql.url }}
{{- if regexMatch "^[^:]+://[^/@]*:[^/@]*@" $url }}
{{- fail "database.postgresql.url must not contain a password: write USER@HOST and put the password in a Secret named by database.postgresql.passwordSecret (passed as PGPASSWORD)" }}
{{- end }}
{{- $url }}
{{- end }}
{{- end }}

{{/* The devices of the configuration file: chart-only keys removed, auth and caBundle written. */}}
{{- define "fusion-connector.configDevices" -}}
{{- $devices := list }}
{{- range $device := .Values.config.devices }}
{{- $prefix := include "fusion-connector.envPrefix" $device.name }}
{{- $keys := include "fusion-connector.secretKeys" $device | fromYaml }}
{{- $out := omit $device "existingSecret" "secretKeys" "caBundleConfigMap" "auth" }}
{{- if eq $device.type "f5-as3" }}
{{- if not $device.existingSecret }}
{{- fail (printf "config.devices %s: an f5-as3 device needs existingSecret (the Secret holding its password)" $device.name) }}
{{- end }}
{{- $username := required (printf "config.devices %s: auth.username is required for an f5-as3 device" $device.name) ($device.auth | default dict).username }}
{{- $_ := set $out "auth" (dict "username" $username "passwordEnv" (printf "%s_PASSWORD" $prefix)) }}
{{- else if eq $device.type "fortios" }}
{{- if not $device.existingSecret }}
{{- fail (printf "config.devices %s: a fortios device needs existingSecret (the Secret holding its API token)" $device.name) }}
{{- end }}
{{- $_ := set $out "auth" (dict "tokenEnv" (printf "%s_TOKEN" $prefix)) }}
{{- else }}
{{- $auth := dict }}
{{- range $purpose, $key := $keys }}
{{- $_ := set $auth (printf "%sEnv" $purpose) (printf "%s_%s" $prefix (include "fusion-connector.envSuffix" $purpose)) }}
{{- end }}
{{- if $auth }}
{{- $_ := set $out "auth" $auth }}
{{- end }}
{{- end }}
{{- with $device.caBundleConfigMap }}
{{- $_ := set $out "caBundle" (printf "%s/%s" (include "fusion-connector.caDir" $device.name) (.key | default "ca.crt")) }}
{{- end }}
{{- $devices = append $devices $out }}
{{- end }}
{{- toYaml $devices }}
{{- end }}

{{/* The flows section of the configuration file (flows.enabled). */}}
{{- define "fusion-connector.configFlows" -}}
{{- $flows := .Values.flows }}
syslog:
  listen: {{ printf "0.0.0.0:%d" (int $flows.syslogPort) | quote }}
  idleTimeout: {{ $flows.syslogIdleTimeout | default "5m" | quote }}
  maxConnections: {{ $flows.syslogMaxConnections | default 256 | int }}
senders:
  {{- toYaml $flows.senders | nindent 2 }}
retention: {{ $flows.retention | quote }}
clockSkew: {{ $flows.clockSkew | quote }}
{{- if $flows.tokenSecret.name }}
tokenEnv: FUSION_CONNECTOR_FLOWS_TOKEN
{{- end }}
{{- with $flows.forward.url }}
forward:
  url: {{ . | quote }}
  format: {{ $flows.forward.format }}
{{- end }}
{{- end }}

{{/* The CIDRs admitted on the syslog port: each sender address (/32 or /128) and flows.senderCidrs. */}}
{{- define "fusion-connector.senderCidrs" -}}
{{- $cidrs := list }}
{{- range .Values.flows.senders }}
{{- range .addresses }}
{{- $cidrs = append $cidrs (ternary (printf "%s/128" .) (printf "%s/32" .) (contains ":" .)) }}
{{- end }}
{{- end }}
{{- toYaml (concat $cidrs .Values.flows.senderCidrs | uniq) }}
{{- end }}

{{/* The configuration file (docs/configuration.md), its sections in the documented order. */}}
{{- define "fusion-connector.configFile" -}}
{{- $sections := list
  (dict "cluster" (include "fusion-connector.cluster" .))
  (dict "database" (include "fusion-connector.databaseUrl" .))
  (dict "kubernetes" (dict "inCluster" true "connectorNamespace" .Release.Namespace))
  (dict "namespaces" .Values.config.namespaces)
  (dict "defaults" .Values.config.defaults)
  (dict "reconcile" .Values.config.reconcile)
  (dict "safety" .Values.config.safety)
  (dict "devices" (include "fusion-connector.configDevices" . | fromYamlArray))
}}
{{- if .Values.flows.enabled }}
{{- $sections = append $sections (dict "flows" (include "fusion-connector.configFlows" . | fromYaml)) }}
{{- end }}
{{- range $index, $section := $sections }}
{{- if $index }}{{ "\n" }}{{ end }}
{{- toYaml $section }}
{{- end }}
{{- end }}

{{/* Refuse value combinations the connector cannot run with. */}}
{{- define "fusion-connector.validate" -}}
{{- if and (eq .Values.database.type "sqlite") (gt (int .Values.replicaCount) 1) }}
{{- fail (printf "replicaCount=%d needs database.type=postgresql: a SQLite store lives on one pod's volume and cannot be shared; use one replica with SQLite, or PostgreSQL for high availability" (int .Values.replicaCount)) }}
{{- end }}
{{- $names := dict }}
{{- range .Values.config.devices }}
{{- if hasKey $names .name }}
{{- fail (printf "config.devices: the device name %q is used twice" .name) }}
{{- end }}
{{- $_ := set $names .name true }}
{{- $prefix := include "fusion-connector.envPrefix" .name }}
{{- if hasKey $names $prefix }}
{{- fail (printf "config.devices %s: another device's name maps to the same environment variables (%s_*); rename one" .name $prefix) }}
{{- end }}
{{- $_ := set $names $prefix true }}
{{- if and .secretKeys (not .existingSecret) }}
{{- fail (printf "config.devices %s: secretKeys needs existingSecret (the Secret to read them from)" .name) }}
{{- end }}
{{- end }}
{{- if .Values.flows.enabled }}
{{- range $index, $sender := .Values.flows.senders }}
{{- if not (hasKey $names $sender.device) }}
{{- fail (printf "flows.senders[%d].device: %q is not a device of config.devices" $index $sender.device) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Where a URL connects, as YAML: port (the URL's, else 443 for https, 80 for http, else 0),
explicitPort (the URL's own port or 0) and cidr (/32 or /128 when the host is an IP address).
*/}}
{{- define "fusion-connector.urlEndpoint" -}}
{{- $url := urlParse . }}
{{- $hostPort := $url.host }}
{{- $explicit := regexFind ":[0-9]+$" $hostPort | trimPrefix ":" }}
{{- $host := regexReplaceAll ":[0-9]+$" $hostPort "" }}
{{- $port := $explicit | default (get (dict "https" "443" "http" "80") $url.scheme) | default "0" }}
port: {{ $port }}
explicitPort: {{ $explicit | default "0" }}
{{- if regexMatch "^[0-9]{1,3}(\\.[0-9]{1,3}){3}$" $host }}
cidr: {{ printf "%s/32" $host | quote }}
{{- else if regexMatch "^\\[[0-9A-Fa-f:.]+\\]$" $host }}
cidr: {{ printf "%s/128" (trimAll "[]" $host) | quote }}
{{- end }}
{{- end }}
