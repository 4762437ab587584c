//! `driftless trace <kind> <name> -n ns` (or `<kind>/<name>`): which Kustomization applied an
//! object, read from the `kustomize.toolkit.fluxcd.io/name|namespace` labels, and from which
//! source and revision, in flux's `trace` layout.

use clap::Args;
use kube::api::{Api, DynamicObject};
use kube::discovery::{ApiCapabilities, ApiResource, Discovery, Scope};
use serde_json::Value;

use driftless_api::annotations::{KUSTOMIZE_NAME, KUSTOMIZE_NAMESPACE};

use super::CommandError;
use super::cluster::{ClusterError, KubeArgs, block_on, is_not_found};
use super::kinds;
use super::output::Printer;
use super::reconcile::source_of;
use super::status::condition;
use super::target::fetch;

/// Arguments of `driftless trace`.
#[derive(Debug, Args)]
pub struct TraceArgs {
    #[command(flatten)]
    pub kube: KubeArgs,
    /// The object's kind (Deployment), when not given as `<kind>/<name>`.
    #[arg(long)]
    pub kind: Option<String>,
    /// The object's apiVersion (apps/v1); found by discovery when omitted.
    #[arg(long)]
    pub api_version: Option<String>,
    /// `<kind> <name>`, `<kind>/<name>`, or `<name>` with `--kind`.
    #[arg(required = true, num_args = 1..=2)]
    pub object: Vec<String>,
}

/// Runs `driftless trace`.
pub fn run(args: &TraceArgs) -> Result<(), CommandError> {
    block_on(async {
        let client = args.kube.client().await?;
        trace(&client, args, &mut Printer::stdio()).await
    })
}

/// Prints the object, the Kustomization that manages it, and that Kustomization's source.
pub async fn trace(
    client: &kube::Client,
    args: &TraceArgs,
    printer: &mut Printer<'_>,
) -> Result<(), CommandError> {
    let (kind, name) = kind_and_name(args)?;
    let (resource, capabilities) = discover(client, &kind, args.api_version.as_deref()).await?;
    let namespace = &args.kube.namespace;
    let api: Api<DynamicObject> = match capabilities.scope {
        Scope::Namespaced => Api::namespaced_with(client.clone(), namespace, &resource),
        Scope::Cluster => Api::all_with(client.clone(), &resource),
    };
    let object = api.get(&name).await.map_err(|e| {
        if is_not_found(&e) {
            ClusterError::NotFound {
                kind: resource.kind.clone(),
                name: name.clone(),
                namespace: namespace.clone(),
            }
        } else {
            ClusterError::api(format!("getting {} {name}", resource.kind), e)
        }
    })?;
    let labels = object.metadata.labels.clone().unwrap_or_default();
    let (Some(ks_name), Some(ks_namespace)) =
        (labels.get(KUSTOMIZE_NAME), labels.get(KUSTOMIZE_NAMESPACE))
    else {
        return Err(ClusterError::Failed(format!(
            "object not managed by Flux: no {KUSTOMIZE_NAME} and {KUSTOMIZE_NAMESPACE} labels on {}/{name}",
            resource.kind
        ))
        .into());
    };
    let mut text = format!("\nObject:          {}/{name}\n", resource.kind);
    if let Some(ns) = object
        .metadata
        .namespace
        .as_deref()
        .filter(|ns| !ns.is_empty())
    {
        text.push_str(&format!("Namespace:       {ns}\n"));
    }
    text.push_str("Status:          Managed by Flux\n");
    let ks = fetch(client, kinds::KUSTOMIZATION, ks_namespace, ks_name).await?;
    text.push_str(&kustomization_section(&ks));
    if let Ok((source_kind, source_ns, source_name)) = source_of(&ks, ks_namespace) {
        let source = fetch(client, source_kind, &source_ns, &source_name).await?;
        text.push_str(&source_section(source_kind.kind, &source));
    }
    printer.print(&text)
}

fn kind_and_name(args: &TraceArgs) -> Result<(String, String), ClusterError> {
    match (args.object.as_slice(), &args.kind) {
        ([kind, name], _) => Ok((kind.clone(), name.clone())),
        ([one], Some(kind)) => Ok((kind.clone(), one.clone())),
        ([one], None) => one
            .split_once('/')
            .map(|(k, n)| (k.to_owned(), n.to_owned()))
            .ok_or_else(|| {
                ClusterError::Invalid("object kind is required (<kind>/<name> or --kind)".into())
            }),
        _ => Err(ClusterError::Invalid("object name is required".into())),
    }
}

/// The served resource for `kind` (its name, plural or short name, any case).
async fn discover(
    client: &kube::Client,
    kind: &str,
    api_version: Option<&str>,
) -> Result<(ApiResource, ApiCapabilities), ClusterError> {
    let discovery = Discovery::new(client.clone())
        .run()
        .await
        .map_err(|e| ClusterError::api("discovering the API server's kinds", e))?;
    let wanted = kind.to_lowercase();
    for group in discovery.groups() {
        for (resource, capabilities) in group.recommended_resources() {
            let names_it = resource.kind.to_lowercase() == wanted || resource.plural == wanted;
            let version_ok = api_version.is_none_or(|v| resource.api_version == v);
            if names_it && version_ok {
                return Ok((resource, capabilities));
            }
        }
    }
    Err(ClusterError::Invalid(format!(
        "the server doesn't have a resource type {kind:?}"
    )))
}

fn text(object: &Value, pointer: &str) -> String {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// A condition time as Go prints a metav1.Time: `2026-01-02 03:04:05 +0000 UTC`.
fn go_time(rfc3339: &str) -> String {
    rfc3339
        .parse::<jiff::Timestamp>()
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S +0000 UTC").to_string())
        .unwrap_or_else(|_| rfc3339.to_owned())
}

fn ready_lines(object: &Value, failed_wording: bool) -> String {
    match condition(object, "Ready") {
        Some(c) => {
            let status = c.get("status").and_then(Value::as_str).unwrap_or_default();
            let at = go_time(
                c.get("lastTransitionTime")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            );
            let message = c.get("message").and_then(Value::as_str).unwrap_or_default();
            let what = if failed_wording && status == "False" {
                "Last reconciliation failed at"
            } else {
                "Last reconciled at"
            };
            format!("Status:          {what} {at}\nMessage:         {message}\n")
        }
        None => "Status:          Unknown\n".to_owned(),
    }
}

fn kustomization_section(ks: &Value) -> String {
    let mut out = format!(
        "---\nKustomization:   {}\nNamespace:       {}\n",
        text(ks, "/metadata/name"),
        text(ks, "/metadata/namespace")
    );
    let target = text(ks, "/spec/targetNamespace");
    if !target.is_empty() {
        out.push_str(&format!("Target:          {target}\n"));
    }
    out.push_str(&format!(
        "Path:            {}\nRevision:        {}\n",
        text(ks, "/spec/path"),
        text(ks, "/status/lastAppliedRevision")
    ));
    out.push_str(&ready_lines(ks, false));
    out
}

fn source_section(kind: &str, source: &Value) -> String {
    let mut out = format!(
        "---\n{:<17}{}\nNamespace:       {}\nURL:             {}\n",
        format!("{kind}:"),
        text(source, "/metadata/name"),
        text(source, "/metadata/namespace"),
        text(source, "/spec/url")
    );
    let reference = |f: &str| text(source, &format!("/spec/ref/{f}"));
    if !reference("tag").is_empty() {
        out.push_str(&format!("Tag:             {}\n", reference("tag")));
    } else if !reference("semver").is_empty() {
        out.push_str(&format!("Tag:             {}\n", reference("semver")));
    } else if !reference("branch").is_empty() {
        out.push_str(&format!("Branch:          {}\n", reference("branch")));
    }
    let revision = text(source, "/status/artifact/revision");
    if !revision.is_empty() {
        out.push_str(&format!("Revision:        {revision}\n"));
    }
    out.push_str(&ready_lines(source, true));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_source_section_shows_url_branch_revision_and_ready() {
        let git = json!({
            "metadata": {"name": "podinfo", "namespace": "flux-system"},
            "spec": {"url": "https://example.com/podinfo", "ref": {"branch": "master"}},
            "status": {"artifact": {"revision": "master@sha1:abc"},
                "conditions": [{"type": "Ready", "status": "False", "message": "auth failed",
                    "lastTransitionTime": "2026-01-02T03:04:05Z"}]}
        });
        assert_eq!(
            source_section("GitRepository", &git),
            "---\nGitRepository:   podinfo\nNamespace:       flux-system\nURL:             https://example.com/podinfo\n\
             Branch:          master\nRevision:        master@sha1:abc\n\
             Status:          Last reconciliation failed at 2026-01-02 03:04:05 +0000 UTC\nMessage:         auth failed\n"
        );
    }

    #[test]
    fn a_kustomization_without_ready_has_unknown_status() {
        let ks = json!({"metadata": {"name": "apps", "namespace": "flux-system"},
            "spec": {"path": "./apps", "targetNamespace": "prod"}});
        let section = kustomization_section(&ks);
        assert!(section.contains("Target:          prod\n"), "{section}");
        assert!(section.ends_with("Status:          Unknown\n"), "{section}");
    }
}
