//! `driftless check [--pre]`: the checks `flux check` makes, in its wording: the Kubernetes
//! version, the installed distribution, the controller Deployments rolled out, the CRDs stored.

use std::time::Duration;

use clap::Args;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams};

use driftless_api::annotations::{
    KUSTOMIZE_NAME, KUSTOMIZE_NAMESPACE, PART_OF, PART_OF_FLUX, VERSION,
};

use super::CommandError;
use super::cluster::{ClusterError, KubeArgs, block_on};
use super::output::Printer;

/// The oldest Kubernetes flux 2.9 supports.
const MIN_KUBERNETES: (u64, u64, u64) = (1, 33, 0);

/// Arguments of `driftless check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Only check the prerequisites (before an install).
    #[arg(long)]
    pub pre: bool,
}

/// Runs `driftless check`.
pub fn run(args: &CheckArgs) -> Result<(), CommandError> {
    block_on(async {
        let client = args.kube.client().await?;
        check(&client, args, &mut Printer::stdio()).await
    })
}

/// Prints every check; fails with "check failed" when any did.
pub async fn check(
    client: &kube::Client,
    args: &CheckArgs,
    printer: &mut Printer<'_>,
) -> Result<(), CommandError> {
    printer.action("checking prerequisites")?;
    let mut ok = kubernetes_version(client, printer).await?;
    if args.pre {
        if !ok {
            printer.failure("prerequisites checks failed")?;
            return Err(ClusterError::Failed("prerequisites checks failed".into()).into());
        }
        printer.success("prerequisites checks passed")?;
        return Ok(());
    }
    printer.action("checking version in cluster")?;
    ok &= distribution(client, printer).await?;
    printer.action("checking controllers")?;
    ok &= controllers(client, &args.kube, printer).await?;
    printer.action("checking crds")?;
    ok &= crds(client, printer).await?;
    if !ok {
        printer.failure("check failed")?;
        return Err(ClusterError::Failed("check failed".into()).into());
    }
    printer.success("all checks passed")?;
    Ok(())
}

/// `major.minor.patch` of a version such as `v1.37.2` or `v1.33.1-eks-1`.
pub fn parse_version(text: &str) -> Option<(u64, u64, u64)> {
    let core = text.trim_start_matches('v').split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    Some((
        parts.next()??,
        parts.next()??,
        parts.next().flatten().unwrap_or(0),
    ))
}

async fn kubernetes_version(
    client: &kube::Client,
    printer: &mut Printer<'_>,
) -> Result<bool, CommandError> {
    let info = client
        .apiserver_version()
        .await
        .map_err(|e| ClusterError::api("reading the Kubernetes version", e))?;
    let Some(version) = parse_version(&info.git_version) else {
        printer.failure("Kubernetes version can't be determined")?;
        return Ok(false);
    };
    let (major, minor, patch) = version;
    let (min_major, min_minor, min_patch) = MIN_KUBERNETES;
    let range = format!(">={min_major}.{min_minor}.{min_patch}-0");
    if version < MIN_KUBERNETES {
        printer.failure(&format!(
            "Kubernetes version {} does not match {range}",
            info.git_version
        ))?;
        return Ok(false);
    }
    printer.success(&format!("Kubernetes {major}.{minor}.{patch} {range}"))?;
    Ok(true)
}

async fn distribution(
    client: &kube::Client,
    printer: &mut Printer<'_>,
) -> Result<bool, CommandError> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = match crds.get("gitrepositories.source.toolkit.fluxcd.io").await {
        Ok(crd) => crd,
        Err(e) => {
            printer.failure(&format!("checking failed: {e}"))?;
            return Ok(false);
        }
    };
    let labels = crd.metadata.labels.unwrap_or_default();
    let version = labels.get(VERSION).cloned().unwrap_or_default();
    let distribution = match labels.get(PART_OF) {
        Some(part_of) if !part_of.is_empty() => format!("{part_of}-{version}"),
        _ => version,
    };
    if !distribution.is_empty() {
        printer.success(&format!("distribution: {distribution}"))?;
    }
    let bootstrapped =
        labels.contains_key(KUSTOMIZE_NAME) && labels.contains_key(KUSTOMIZE_NAMESPACE);
    printer.success(&format!("bootstrapped: {bootstrapped}"))?;
    Ok(true)
}

/// Whether a Deployment has rolled out (kstatus Current).
pub fn rolled_out(deployment: &Deployment) -> bool {
    let generation = deployment.metadata.generation;
    let Some(status) = &deployment.status else {
        return false;
    };
    let wanted = deployment.spec.replicas.unwrap_or(1);
    let available = status
        .conditions
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|c| c.type_.as_deref() == Some("Available") && c.status.as_deref() == Some("True"));
    status.observed_generation == generation
        && status.updated_replicas.unwrap_or(0) >= wanted
        && status.available_replicas.unwrap_or(0) >= wanted
        && status.ready_replicas.unwrap_or(0) >= wanted
        && available
}

async fn controllers(
    client: &kube::Client,
    kube: &KubeArgs,
    printer: &mut Printer<'_>,
) -> Result<bool, CommandError> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), &kube.namespace);
    let selector = format!("{PART_OF}={PART_OF_FLUX}");
    let params = ListParams::default().labels(&selector);
    let list = api
        .list(&params)
        .await
        .map_err(|e| ClusterError::api("listing controller Deployments", e))?;
    if list.items.is_empty() {
        printer.failure(&format!(
            "no controllers found in the '{}' namespace with the label selector '{selector}'",
            kube.namespace
        ))?;
        return Ok(false);
    }
    let deadline = tokio::time::Instant::now() + kube.timeout.get();
    let mut ok = true;
    for deployment in list.items {
        let name = deployment.metadata.name.clone().unwrap_or_default();
        let mut current = deployment.clone();
        while !rolled_out(&current) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_secs(2)).await;
            match api.get(&name).await {
                Ok(d) => current = d,
                Err(_) => break,
            }
        }
        if rolled_out(&current) {
            printer.success(&format!("{name}: deployment ready"))?;
        } else {
            ok = false;
            printer.failure(&format!("{name}: deployment not ready"))?;
        }
        let containers = deployment
            .spec
            .template
            .spec
            .map(|s| s.containers)
            .unwrap_or_default();
        for container in containers {
            printer.action(&container.image.unwrap_or_default())?;
        }
    }
    Ok(ok)
}

async fn crds(client: &kube::Client, printer: &mut Printer<'_>) -> Result<bool, CommandError> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let selector = format!("{PART_OF}={PART_OF_FLUX}");
    let list = api
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| ClusterError::api("listing CRDs", e))?;
    if list.items.is_empty() {
        printer.failure(&format!(
            "no crds found with the label selector '{selector}'"
        ))?;
        return Ok(false);
    }
    let mut ok = true;
    for crd in list.items {
        let name = crd.metadata.name.unwrap_or_default();
        match crd
            .status
            .and_then(|s| s.stored_versions)
            .and_then(|v| v.last().cloned())
        {
            Some(version) => printer.success(&format!("{name}/{version}"))?,
            None => {
                ok = false;
                printer.failure(&format!("no stored versions for {name}"))?;
            }
        }
    }
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_versions_parse_with_and_without_suffixes() {
        assert_eq!(parse_version("v1.37.2"), Some((1, 37, 2)));
        assert_eq!(parse_version("v1.33.1-eks-1"), Some((1, 33, 1)));
        assert_eq!(parse_version("v0.0.0-master+abc"), Some((0, 0, 0)));
        assert_eq!(parse_version("garbage"), None);
        assert!(parse_version("v1.32.9").expect("parses") < MIN_KUBERNETES);
    }

    #[test]
    fn a_deployment_without_available_replicas_has_not_rolled_out() {
        let deployment: Deployment = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "source-controller", "generation": 1},
            "spec": {"replicas": 1, "selector": {}, "template": {}},
            "status": {"observedGeneration": 1, "updatedReplicas": 1, "replicas": 1}
        }))
        .expect("a deployment");
        assert!(!rolled_out(&deployment));
        let mut ready = deployment.clone();
        if let Some(status) = ready.status.as_mut() {
            status.available_replicas = Some(1);
            status.ready_replicas = Some(1);
            status.conditions = Some(vec![
                serde_json::from_value(serde_json::json!({"type": "Available", "status": "True"}))
                    .expect("a condition"),
            ]);
        }
        assert!(rolled_out(&ready));
    }
}
