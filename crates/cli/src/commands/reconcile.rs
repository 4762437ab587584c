//! `driftless reconcile <kind> <name> [--with-source]`: ask for a reconcile by setting
//! `reconcile.fluxcd.io/requestedAt`, wait until the controller has handled that very request and
//! the object is Ready, then print the revision it ended on.

use std::time::Duration;

use clap::Args;
use driftless_api::annotations::RECONCILE_REQUESTED_AT;
use serde_json::{Value, json};

use super::CommandError;
use super::cluster::{ClusterError, KubeArgs, block_on};
use super::kinds::{self, FluxKind};
use super::output::Printer;
use super::status::{
    Verdict, is_suspended, last_handled, ready_and_message, requested_at_now, verdict,
};
use super::target::{Target, fetch, merge_patch};

/// How often the object is read while waiting (flux polls every two seconds; a shorter
/// interval only costs a few GETs and returns sooner).
pub const POLL: Duration = Duration::from_millis(500);

/// Arguments of `driftless reconcile`.
#[derive(Debug, Args)]
pub struct ReconcileArgs {
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Reconcile the object's source first (Kustomizations and HelmReleases).
    #[arg(long, global = true)]
    pub with_source: bool,
    #[command(subcommand)]
    pub target: Target,
}

/// Runs `driftless reconcile`.
pub fn run(args: &ReconcileArgs) -> Result<(), CommandError> {
    block_on(async {
        let client = args.kube.client().await?;
        reconcile(&client, args, &mut Printer::stdio()).await
    })
}

/// Reconciles the target (and its source first with `--with-source`).
pub async fn reconcile(
    client: &kube::Client,
    args: &ReconcileArgs,
    printer: &mut Printer<'_>,
) -> Result<(), CommandError> {
    let (kind, name) = args.target.single()?;
    let namespace = args.kube.namespace.as_str();
    let object = fetch(client, kind, namespace, name).await?;
    if is_suspended(&object) {
        return Err(ClusterError::Suspended.into());
    }
    if args.with_source {
        let (source_kind, source_namespace, source_name) = source_of(&object, namespace)?;
        let source = fetch(client, source_kind, &source_namespace, &source_name).await?;
        if is_suspended(&source) {
            return Err(ClusterError::Suspended.into());
        }
        request_and_wait(
            client,
            &args.kube,
            source_kind,
            &source_namespace,
            &source_name,
            printer,
        )
        .await?;
    }
    request_and_wait(client, &args.kube, kind, namespace, name, printer).await
}

/// `spec.sourceRef` of a Kustomization or HelmRelease (a HelmRelease's chart template source
/// is its `spec.chart.spec.sourceRef`, or its `spec.chartRef`).
pub fn source_of(
    object: &Value,
    namespace: &str,
) -> Result<(FluxKind, String, String), ClusterError> {
    let reference = [
        "/spec/sourceRef",
        "/spec/chartRef",
        "/spec/chart/spec/sourceRef",
    ]
    .iter()
    .find_map(|p| object.pointer(p))
    .ok_or_else(|| ClusterError::Invalid("the object has no source reference".into()))?;
    let field = |f: &str| reference.get(f).and_then(Value::as_str).unwrap_or_default();
    let kind = FluxKind::by_name(field("kind"))
        .filter(|k| kinds::SOURCES.contains(k))
        .ok_or_else(|| {
            ClusterError::Invalid(format!("cannot reconcile source of kind {}", field("kind")))
        })?;
    let source_namespace = match field("namespace") {
        "" => namespace.to_owned(),
        ns => ns.to_owned(),
    };
    Ok((kind, source_namespace, field("name").to_owned()))
}

/// Annotates one object with a new `requestedAt` and waits for it to be handled and Ready.
pub async fn request_and_wait(
    client: &kube::Client,
    kube: &KubeArgs,
    kind: FluxKind,
    namespace: &str,
    name: &str,
    printer: &mut Printer<'_>,
) -> Result<(), CommandError> {
    printer.action(&format!(
        "annotating {} {name} in {namespace} namespace",
        kind.kind
    ))?;
    let requested = requested_at_now();
    let patch = json!({"metadata": {"annotations": {RECONCILE_REQUESTED_AT: requested}}});
    merge_patch(client, kind, namespace, name, patch).await?;
    printer.success(&format!("{} annotated", kind.kind))?;
    printer.waiting(&format!("waiting for {} reconciliation", kind.kind))?;
    let object = wait(client, kube, kind, namespace, name, |o| {
        last_handled(o) == requested
    })
    .await?;
    let (ready, message) = ready_and_message(&object);
    if ready != "True" {
        return Err(ClusterError::Failed(format!(
            "{} reconciliation failed: '{message}'",
            kind.kind
        ))
        .into());
    }
    printer.success(&kind.success_message(&object))?;
    Ok(())
}

/// Polls the object until `handled` accepts it and kstatus calls it Current; a stalled object
/// is an error with its message, and so is running out of `--timeout`.
pub async fn wait(
    client: &kube::Client,
    kube: &KubeArgs,
    kind: FluxKind,
    namespace: &str,
    name: &str,
    handled: impl Fn(&Value) -> bool,
) -> Result<Value, ClusterError> {
    let deadline = tokio::time::Instant::now() + kube.timeout.get();
    loop {
        let object = fetch(client, kind, namespace, name).await?;
        if handled(&object) {
            match verdict(&object) {
                Verdict::Current => return Ok(object),
                Verdict::Failed(message) => {
                    return Err(ClusterError::Failed(format!(
                        "{} reconciliation failed: '{message}'",
                        kind.kind
                    )));
                }
                Verdict::Terminating => {
                    return Err(ClusterError::Failed(format!(
                        "{} {name} is being deleted",
                        kind.kind
                    )));
                }
                Verdict::InProgress => {}
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ClusterError::Timeout {
                what: format!("{} {namespace}/{name} to be reconciled", kind.kind),
                timeout: kube.timeout,
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kustomization_source_defaults_to_its_own_namespace() {
        let ks = json!({"spec": {"sourceRef": {"kind": "GitRepository", "name": "fleet"}}});
        let (kind, ns, name) = source_of(&ks, "apps").expect("has a source");
        assert_eq!(
            (kind, ns.as_str(), name.as_str()),
            (kinds::GIT_REPOSITORY, "apps", "fleet")
        );
    }

    #[test]
    fn a_helm_release_chart_source_is_found_in_its_template() {
        let hr = json!({"spec": {"chart": {"spec": {"sourceRef": {"kind": "HelmRepository", "name": "podinfo", "namespace": "flux-system"}}}}});
        let (kind, ns, _) = source_of(&hr, "apps").expect("has a source");
        assert_eq!((kind, ns.as_str()), (kinds::HELM_REPOSITORY, "flux-system"));
    }

    #[test]
    fn a_source_of_an_unknown_kind_cannot_be_reconciled() {
        let ks = json!({"spec": {"sourceRef": {"kind": "Unknown", "name": "x"}}});
        let err = source_of(&ks, "apps").expect_err("unknown kind");
        assert!(
            err.to_string()
                .contains("cannot reconcile source of kind Unknown")
        );
    }
}
