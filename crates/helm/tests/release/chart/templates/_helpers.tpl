{{- define "fixture.name" -}}{{ .Release.Name }}-fixture{{- end -}}
