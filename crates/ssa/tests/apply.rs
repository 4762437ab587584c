//! Staged server-side apply against the local control plane: whole-set validation, change sets,
//! drift correction, the `kustomize.toolkit.fluxcd.io/ssa` and `force` switches.

mod common;

use common::{ClusterCleanup, apply, config_map, config_maps, config_value, manager, unique};
use driftless_ssa::{Action, SsaError};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::discovery::ApiResource;
use testkit::TestNamespace;

fn widget(group: &str, name: &str, size: &str) -> String {
    format!(
        "---\napiVersion: {group}/v1\nkind: Widget\nmetadata:\n  name: {name}\nspec:\n  size: {size}\n"
    )
}

/// A namespaced CRD for `Widget` in `group`, with an integer `spec.size`.
fn widget_crd(group: &str) -> String {
    format!(
        r#"---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.{group}
spec:
  group: {group}
  scope: Namespaced
  names: {{plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {{type: integer}}
"#
    )
}

#[tokio::test]
async fn a_crd_and_a_custom_resource_of_it_apply_together_because_definitions_go_first()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    let ns = TestNamespace::create(&cluster, "ssa-crd").await?;
    let group = format!("g{}.example.com", unique(&ns));
    let crd_name = format!("widgets.{group}");
    let _cleanup = ClusterCleanup::crd(&cluster, &crd_name);
    let yaml = format!("{}{}", widget(&group, "first", "3"), widget_crd(&group));
    let mgr = manager(&cluster, &ns, "crd");
    let changes = apply(&mgr, &yaml).await?;
    assert_eq!(
        changes.to_string(),
        format!(
            "CustomResourceDefinition/{crd_name} created\nWidget/{}/first created",
            ns.name()
        )
    );

    let resource = ApiResource {
        group: group.clone(),
        version: "v1".into(),
        api_version: format!("{group}/v1"),
        kind: "Widget".into(),
        plural: "widgets".into(),
    };
    let widgets: Api<DynamicObject> =
        Api::namespaced_with(cluster.client.clone(), ns.name(), &resource);
    let widget = widgets.get("first").await?;
    assert_eq!(widget.data["spec"]["size"], 3);

    let again = apply(&mgr, &yaml).await?;
    assert!(
        again.entries.iter().all(|e| e.action == Action::Unchanged),
        "{again}"
    );
    Ok(())
}

#[tokio::test]
async fn a_namespace_and_the_objects_in_it_apply_together_and_report_in_flux_order()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    let ns = TestNamespace::create(&cluster, "ssa-newns").await?;
    let created_ns = format!("{}-apps", ns.name());
    let _cleanup = ClusterCleanup::namespace(&cluster, &created_ns);
    let yaml = format!(
        "{}---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {created_ns}\n",
        config_map(
            "in-new-namespace",
            "x",
            &format!("  namespace: {created_ns}\n")
        )
    );
    let changes = apply(&manager(&cluster, &ns, "newns"), &yaml).await?;
    assert_eq!(
        changes.to_string(),
        format!("Namespace/{created_ns} created\nConfigMap/{created_ns}/in-new-namespace created")
    );
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), &created_ns);
    assert!(cms.get_opt("in-new-namespace").await?.is_some());
    Ok(())
}

#[tokio::test]
async fn an_invalid_custom_resource_of_a_new_crd_fails_before_any_later_stage_is_applied()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    let ns = TestNamespace::create(&cluster, "ssa-deferred").await?;
    let group = format!("g{}.example.com", unique(&ns));
    let _cleanup = ClusterCleanup::crd(&cluster, &format!("widgets.{group}"));
    // The CR can only be validated once its CRD exists, so the definitions stage is applied
    // first; the ConfigMap (last stage) must still not be applied.
    let yaml = format!(
        "{}{}{}",
        widget(&group, "bad", "not-a-number"),
        widget_crd(&group),
        config_map("later", "x", "")
    );
    let err = apply(&manager(&cluster, &ns, "deferred"), &yaml)
        .await
        .expect_err("the Widget is invalid");
    let SsaError::DeferredValidation { failures } = &err else {
        anyhow::bail!("expected a deferred validation error, got {err}");
    };
    assert_eq!(failures[0].subject, format!("Widget/{}/bad", ns.name()));
    assert!(failures[0].message.contains("spec.size"), "{err}");
    assert_eq!(
        config_value(&config_maps(&cluster, &ns), "later").await?,
        None
    );
    Ok(())
}

#[tokio::test]
async fn a_set_with_one_invalid_object_applies_nothing_and_names_the_failing_object()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    let ns = TestNamespace::create(&cluster, "ssa-invalid").await?;
    let invalid = "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: broken\nspec:\n  ports:\n  - port: 99999\n";
    let yaml = format!(
        "{}{}{invalid}",
        config_map("first", "a", ""),
        config_map("second", "b", "")
    );
    let mgr = manager(&cluster, &ns, "invalid");
    let err = apply(&mgr, &yaml)
        .await
        .expect_err("the Service is invalid");
    let SsaError::Validation { failures } = &err else {
        anyhow::bail!("expected a validation error, got {err}");
    };
    assert_eq!(failures.len(), 1, "{err}");
    assert_eq!(failures[0].subject, format!("Service/{}/broken", ns.name()));
    assert!(failures[0].message.contains("99999"), "{err}");
    assert!(err.to_string().contains("nothing was applied"), "{err}");

    let cms = config_maps(&cluster, &ns);
    assert_eq!(config_value(&cms, "first").await?, None);
    assert_eq!(config_value(&cms, "second").await?, None);
    Ok(())
}

#[tokio::test]
async fn duplicate_objects_in_a_set_are_rejected_before_anything_is_applied() -> anyhow::Result<()>
{
    let cluster = testkit::cluster().await?;
    let ns = TestNamespace::create(&cluster, "ssa-dup").await?;
    let yaml = format!(
        "{}{}",
        config_map("same", "a", ""),
        config_map("same", "b", "")
    );
    let err = apply(&manager(&cluster, &ns, "dup"), &yaml)
        .await
        .expect_err("duplicate");
    assert!(err.to_string().contains("duplicate object"), "{err}");
    assert_eq!(
        config_value(&config_maps(&cluster, &ns), "same").await?,
        None
    );
    Ok(())
}

#[tokio::test]
async fn reapplying_reports_unchanged_and_a_changed_field_reports_configured() -> anyhow::Result<()>
{
    let cluster = testkit::cluster().await?;
    let ns = TestNamespace::create(&cluster, "ssa-change").await?;
    let mgr = manager(&cluster, &ns, "change");
    let subject = format!("ConfigMap/{}/settings", ns.name());

    let created = apply(&mgr, &config_map("settings", "one", "")).await?;
    assert_eq!(created.to_string(), format!("{subject} created"));
    let cms = config_maps(&cluster, &ns);
    let version = cms.get("settings").await?.metadata.resource_version;

    let same = apply(&mgr, &config_map("settings", "one", "")).await?;
    assert_eq!(same.to_string(), format!("{subject} unchanged"));
    assert_eq!(
        cms.get("settings").await?.metadata.resource_version,
        version,
        "an unchanged object is not written"
    );

    let changed = apply(&mgr, &config_map("settings", "two", "")).await?;
    assert_eq!(changed.to_string(), format!("{subject} configured"));
    assert_eq!(
        config_value(&cms, "settings").await?.as_deref(),
        Some("two")
    );
    Ok(())
}

#[tokio::test]
async fn drift_on_a_field_we_own_is_corrected_on_the_next_apply() -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    let ns = TestNamespace::create(&cluster, "ssa-drift").await?;
    let mgr = manager(&cluster, &ns, "drift");
    apply(&mgr, &config_map("settings", "desired", "")).await?;

    // Someone edits the field by hand, as `kubectl edit` would (an Update by another manager).
    let cms = config_maps(&cluster, &ns);
    let edit = serde_json::json!({"data": {"key": "edited"}});
    cms.patch(
        "settings",
        &PatchParams {
            field_manager: Some("kubectl-edit".into()),
            ..PatchParams::default()
        },
        &Patch::Merge(&edit),
    )
    .await?;
    assert_eq!(
        config_value(&cms, "settings").await?.as_deref(),
        Some("edited")
    );

    let corrected = apply(&mgr, &config_map("settings", "desired", "")).await?;
    assert_eq!(
        corrected.to_string(),
        format!("ConfigMap/{}/settings configured", ns.name())
    );
    assert_eq!(
        config_value(&cms, "settings").await?.as_deref(),
        Some("desired")
    );
    Ok(())
}

#[tokio::test]
async fn applied_objects_carry_the_owner_labels_and_the_field_manager() -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    let ns = TestNamespace::create(&cluster, "ssa-owner").await?;
    apply(
        &manager(&cluster, &ns, "apps"),
        &config_map("owned", "x", ""),
    )
    .await?;
    let cm = config_maps(&cluster, &ns).get("owned").await?;
    let labels = cm.metadata.labels.unwrap_or_default();
    assert_eq!(
        labels
            .get("kustomize.toolkit.fluxcd.io/name")
            .map(String::as_str),
        Some("apps")
    );
    assert_eq!(
        labels
            .get("kustomize.toolkit.fluxcd.io/namespace")
            .map(String::as_str),
        Some(ns.name())
    );
    let managers: Vec<String> = cm
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert_eq!(managers, ["kustomize-controller"]);
    Ok(())
}

#[tokio::test]
async fn a_kind_the_api_server_does_not_serve_fails_validation_and_nothing_is_applied()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    let ns = TestNamespace::create(&cluster, "ssa-unknown").await?;
    let unknown = "---\napiVersion: nowhere.example.com/v1\nkind: Gadget\nmetadata:\n  name: g\n";
    let yaml = format!("{}{unknown}", config_map("valid", "x", ""));
    let err = apply(&manager(&cluster, &ns, "unknown"), &yaml)
        .await
        .expect_err("Gadget is not served");
    let message = err.to_string();
    assert!(
        message.contains("Gadget/g dry-run failed")
            && message.contains("nowhere.example.com/v1 Gadget is not served"),
        "{message}"
    );
    assert_eq!(
        config_value(&config_maps(&cluster, &ns), "valid").await?,
        None
    );
    Ok(())
}
