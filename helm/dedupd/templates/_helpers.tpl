{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "dedupd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fully qualified app name; the release name alone when it contains the chart name. */}}
{{- define "dedupd.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "dedupd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dedupd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "dedupd.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "dedupd.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: dedupd
{{- end -}}

{{- define "dedupd.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "dedupd.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "dedupd.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "dedupd.saslSecretName" -}}
{{- default (printf "%s-kafka-sasl" (include "dedupd.fullname" .)) .Values.kafkaAuth.sasl.existingSecret -}}
{{- end -}}

{{- define "dedupd.tlsSecretName" -}}
{{- default (printf "%s-kafka-tls" (include "dedupd.fullname" .)) .Values.kafkaAuth.tls.existingSecret -}}
{{- end -}}

{{- define "dedupd.alertmanagerSecretName" -}}
{{- default (printf "%s-alertmanager" (include "dedupd.fullname" .)) .Values.alertmanagerAuth.existingSecret -}}
{{- end -}}

{{/* Where the Alertmanager credential is mounted (alertmanagerAuth.from=file). */}}
{{- define "dedupd.alertmanagerDir" -}}/var/run/secrets/dedupd/alertmanager{{- end -}}

{{/* Where the TLS Secret is mounted; librdkafka reads the files from there. */}}
{{- define "dedupd.tlsDir" -}}/var/run/secrets/dedupd/kafka-tls{{- end -}}

{{- define "dedupd.metricsPort" -}}
{{- .Values.config.metrics.port | int -}}
{{- end -}}

{{- define "dedupd.probePort" -}}
{{- if .Values.probes.port -}}{{ .Values.probes.port | int }}{{- else -}}metrics{{- end -}}
{{- end -}}

{{/*
The daemon's configuration file: .Values.config, plus the librdkafka security
properties that kafkaAuth implies, added to kafka.common (both clients) where
the user has not set them (their own values win).
*/}}
{{- define "dedupd.config" -}}
{{- $cfg := deepCopy .Values.config -}}
{{- $kafka := default dict $cfg.kafka -}}
{{- $sec := dict -}}
{{- $sasl := .Values.kafkaAuth.sasl -}}
{{- $tls := .Values.kafkaAuth.tls -}}
{{- if and $sasl.enabled $tls.enabled -}}
{{- $_ := set $sec "security.protocol" "SASL_SSL" -}}
{{- else if $sasl.enabled -}}
{{- $_ := set $sec "security.protocol" "SASL_PLAINTEXT" -}}
{{- else if $tls.enabled -}}
{{- $_ := set $sec "security.protocol" "SSL" -}}
{{- end -}}
{{- if $sasl.enabled -}}
{{- $_ := set $sec "sasl.mechanisms" $sasl.mechanism -}}
{{- end -}}
{{- if $tls.enabled -}}
{{- $_ := set $sec "ssl.ca.location" (printf "%s/%s" (include "dedupd.tlsDir" .) $tls.caKey) -}}
{{- if $tls.clientCert -}}
{{- $_ := set $sec "ssl.certificate.location" (printf "%s/%s" (include "dedupd.tlsDir" .) $tls.certKey) -}}
{{- $_ := set $sec "ssl.key.location" (printf "%s/%s" (include "dedupd.tlsDir" .) $tls.keyKey) -}}
{{- end -}}
{{- end -}}
{{- if $sec -}}
{{- $_ := set $kafka "common" (merge (default dict $kafka.common) $sec) -}}
{{- end -}}
{{- $_ := set $cfg "kafka" $kafka -}}
{{- $am := .Values.alertmanagerAuth -}}
{{- if and $am (ne $am.type "none") -}}
{{- $amCfg := default dict $cfg.alertmanager -}}
{{- $file := printf "%s/%s" (include "dedupd.alertmanagerDir" .) $am.key -}}
{{- if eq $am.type "basic" -}}
{{- $_ := set $amCfg "username" $am.username -}}
{{- if eq $am.from "file" -}}{{- $_ := set $amCfg "password_file" $file -}}{{- end -}}
{{- else if eq $am.from "file" -}}
{{- $_ := set $amCfg "bearer_token_file" $file -}}
{{- end -}}
{{- $_ := set $cfg "alertmanager" $amCfg -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/*
Prefix of the Kafka ids the chart derives from the pod name (transactional
id): unique per namespace and release, so two releases on one Kafka cluster
never fence each other's producers. transactionalIdPrefix overrides it.
At most 63 (namespace) + 1 + 53 (release) characters by Kubernetes' own
limits; the whole id stays below 249 characters (values.schema.json bounds
the override).
*/}}
{{- define "dedupd.kafkaIdPrefix" -}}
{{- default (printf "%s.%s" .Release.Namespace .Release.Name) .Values.transactionalIdPrefix -}}
{{- end -}}

{{/* The job label of the scraped series (ServiceMonitor or PodMonitor);
     the PrometheusRule's DedupdDown selects up{job="<this>"}. */}}
{{- define "dedupd.jobName" -}}
{{- if .Values.podMonitor.enabled -}}
{{- default .Values.serviceMonitor.jobName .Values.podMonitor.jobName -}}
{{- else -}}
{{- .Values.serviceMonitor.jobName -}}
{{- end -}}
{{- end -}}

{{/* Absolute base of the runbook_url annotations (prometheusRule.runbookBaseUrl),
     with exactly one trailing slash; docs/runbook.md#<alert> is appended. */}}
{{- define "dedupd.runbookBase" -}}
{{- printf "%s/" (trimSuffix "/" .Values.prometheusRule.runbookBaseUrl) -}}
{{- end -}}
