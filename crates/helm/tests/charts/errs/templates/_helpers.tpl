{{- define "errs.nil" -}}
{{ .Values.missing.deeper.key }}
{{- end }}
{{- define "errs.outer" -}}
{{ include "errs.nil" . }}
{{- end }}
{{- define "errs.index" -}}
{{ index .Values.list 5 }}
{{- end }}
{{- define "errs.fail" -}}
{{ fail "nested failure" }}
{{- end }}
