{{- define "parent.fullname" -}}
{{ .Release.Name }}-{{ .Values.name | trunc 20 }}
{{- end -}}
