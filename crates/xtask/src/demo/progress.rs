//! What the demo shows while it waits: one line per Flux object whenever its Ready condition
//! changes, until the GitRepository and both Kustomizations are Ready at the same revision; then
//! the objects the Kustomizations manage, with the proof that decryption and substitution ran.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use driftless_api::kustomize::Kustomization;
use driftless_api::source::GitRepository;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::Api;

use super::processes::NAMESPACE;

const KUSTOMIZATIONS: [&str; 2] = ["infrastructure", "apps"];
const CONVERGE: Duration = Duration::from_secs(180);

fn ready(conditions: Option<&Vec<Condition>>) -> Option<&Condition> {
    conditions.and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
}

fn line(kind: &str, name: &str, condition: Option<&Condition>) -> String {
    match condition {
        Some(c) => format!(
            "    {kind}/{name}: Ready={} {}: {}",
            c.status, c.reason, c.message
        ),
        None => format!("    {kind}/{name}: waiting for the controller"),
    }
}

/// Prints progress until everything is Ready at the source's revision.
pub async fn until_ready(client: &kube::Client, logs: &[&Path]) -> anyhow::Result<()> {
    let repos: Api<GitRepository> = Api::namespaced(client.clone(), NAMESPACE);
    let kss: Api<Kustomization> = Api::namespaced(client.clone(), NAMESPACE);
    let mut shown: BTreeMap<String, String> = BTreeMap::new();
    let started = Instant::now();
    loop {
        let repo = repos.get("fleet").await?;
        let status = repo.status.as_ref();
        let revision = status
            .and_then(|s| s.artifact.as_ref())
            .map(|a| a.revision.clone());
        let mut lines = vec![(
            "fleet".to_owned(),
            line(
                "GitRepository",
                "fleet",
                ready(status.and_then(|s| s.conditions.as_ref())),
            ),
        )];
        let mut done =
            ready(status.and_then(|s| s.conditions.as_ref())).is_some_and(|c| c.status == "True");
        for name in KUSTOMIZATIONS {
            let ks = kss.get(name).await?;
            let status = ks.status.as_ref();
            let condition = ready(status.and_then(|s| s.conditions.as_ref()));
            done &= condition.is_some_and(|c| c.status == "True")
                && status.and_then(|s| s.last_applied_revision.clone()) == revision;
            lines.push((name.to_owned(), line("Kustomization", name, condition)));
        }
        for (key, text) in lines {
            if shown.get(&key) != Some(&text) {
                eprintln!(
                    "{:>6.1}s {}",
                    started.elapsed().as_secs_f64(),
                    text.trim_start()
                );
                shown.insert(key, text);
            }
        }
        if done {
            return Ok(());
        }
        if started.elapsed() > CONVERGE {
            let logs: Vec<String> = logs.iter().map(|l| l.display().to_string()).collect();
            anyhow::bail!(
                "not Ready after {}s; controller logs: {}",
                CONVERGE.as_secs(),
                logs.join(", ")
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Prints each Kustomization's inventory and what decryption and substitution produced.
pub async fn print_managed(client: &kube::Client) -> anyhow::Result<()> {
    let kss: Api<Kustomization> = Api::namespaced(client.clone(), NAMESPACE);
    for name in KUSTOMIZATIONS {
        let ks = kss.get(name).await?;
        let status = ks.status.unwrap_or_default();
        eprintln!(
            "    Kustomization/{name} at {}:",
            status.last_applied_revision.unwrap_or_default()
        );
        for entry in status.inventory.map(|i| i.entries).unwrap_or_default() {
            // Inventory ids are `<namespace>_<name>_<group>_<kind>`.
            let parts: Vec<&str> = entry.id.splitn(4, '_').collect();
            if let [namespace, name, group, kind] = parts[..] {
                let group = if group.is_empty() {
                    String::new()
                } else {
                    format!(".{group}")
                };
                let at = if namespace.is_empty() {
                    String::new()
                } else {
                    format!(" -n {namespace}")
                };
                eprintln!("      {kind}{group}/{name}{at}");
            }
        }
    }
    let deployment = Api::<Deployment>::namespaced(client.clone(), "demo")
        .get("podinfo")
        .await?;
    let annotations = deployment.metadata.annotations.unwrap_or_default();
    eprintln!(
        "    postBuild: deployment/podinfo replicas={} (from ConfigMap cluster-vars), cluster annotation={:?} (from spec.postBuild.substitute)",
        deployment.spec.replicas.unwrap_or_default(),
        annotations
            .get("demo.driftless.dev/cluster")
            .map(String::as_str)
            .unwrap_or_default(),
    );
    let secret = Api::<Secret>::namespaced(client.clone(), "demo")
        .get("podinfo-credentials")
        .await?;
    let message = secret
        .data
        .unwrap_or_default()
        .get("PODINFO_UI_MESSAGE")
        .map(|v| String::from_utf8_lossy(&v.0).into_owned())
        .unwrap_or_default();
    eprintln!(
        "    SOPS: secret/podinfo-credentials decrypted in the cluster (demo value PODINFO_UI_MESSAGE={message:?})"
    );
    Ok(())
}
