{{- define "lib.labels" -}}
app: {{ .Chart.Name }}
team: {{ .Values.global.labels.team }}
{{- end -}}
