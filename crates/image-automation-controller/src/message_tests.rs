use super::*;

fn result() -> UpdateResult {
    let mut result = UpdateResult::default();
    let deploy = ObjectIdentifier {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        namespace: "apps".into(),
        name: "podinfo".into(),
    };
    let change = |old: &str, new: &str, setter: &str| Change {
        old_value: old.into(),
        new_value: new.into(),
        setter: setter.into(),
    };
    result
        .file_changes
        .entry("apps/podinfo.yaml".into())
        .or_default()
        .insert(
            deploy,
            vec![change(
                "ghcr.io/podinfo:5.0.0",
                "ghcr.io/podinfo:5.0.3",
                "flux-system:podinfo",
            )],
        );
    result
        .file_changes
        .entry("values.yaml".into())
        .or_default()
        .insert(
            ObjectIdentifier::default(),
            vec![change("1.0", "1.1", "flux-system:other:tag")],
        );
    result
}

#[test]
fn no_template_gives_fluxs_default_message() {
    let message = render(None, "ns", "auto", &BTreeMap::new(), &result()).expect("render");
    assert_eq!(message, "Update from image update automation");
}

#[test]
fn the_spec_example_template_renders_files_objects_and_changes() {
    let template = r#"Automated image update

Automation name: {{ .AutomationObject }}

Files:
{{ range $filename, $_ := .Changed.FileChanges -}}
- {{ $filename }}
{{ end -}}

Objects:
{{ range $resource, $changes := .Changed.Objects -}}
- {{ $resource.Kind | lower }} {{ $resource.Name | lower }}
  Changes:
{{- range $_, $change := $changes }}
    - {{ $change.OldValue }} -> {{ $change.NewValue }}
{{ end -}}
{{ end -}}
"#;
    let message = render(
        Some(template),
        "flux-system",
        "podinfo-update",
        &BTreeMap::new(),
        &result(),
    )
    .expect("render");
    assert_eq!(
        message,
        "Automated image update

Automation name: flux-system/podinfo-update

Files:
- apps/podinfo.yaml
- values.yaml
Objects:
-  
  Changes:
    - 1.0 -> 1.1
- deployment podinfo
  Changes:
    - ghcr.io/podinfo:5.0.0 -> ghcr.io/podinfo:5.0.3
"
    );
}

#[test]
fn values_changes_and_automation_fields_are_available() {
    let values = BTreeMap::from([("cluster".to_string(), "prod".to_string())]);
    let template = "[{{ .Values.cluster }}] {{ .AutomationObject.Namespace }}.{{ .AutomationObject.Name }}: \
{{ range .Changed.Changes }}{{ .Setter }}={{ .NewValue }} {{ end }}{{ len .Changed.Changes }}";
    let message = render(Some(template), "ns", "auto", &values, &result()).expect("render");
    assert_eq!(
        message,
        "[prod] ns.auto: flux-system:podinfo=ghcr.io/podinfo:5.0.3 flux-system:other:tag=1.1 2"
    );
}

#[test]
fn a_removed_or_broken_template_is_an_error() {
    let removed = render(
        Some("{{ range .Updated.Images }}{{ end }}"),
        "ns",
        "a",
        &BTreeMap::new(),
        &result(),
    );
    assert!(
        removed
            .expect_err("Updated")
            .to_string()
            .contains("'Updated'")
    );
    let broken = render(Some("{{ .Changed"), "ns", "a", &BTreeMap::new(), &result());
    assert!(broken.is_err());
}
