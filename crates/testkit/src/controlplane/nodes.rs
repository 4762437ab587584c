//! Fake nodes: Node objects that kwok keeps Ready (status, lease heartbeats) and
//! whose pods it moves through their lifecycle, so the scheduler places pods and
//! Deployments, StatefulSets, DaemonSets and Jobs reach Ready or Complete.

use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

/// Annotation kwok is told to manage nodes by.
pub const KWOK_ANNOTATION: &str = "kwok.x-k8s.io/node";

/// How many fake nodes the control plane has.
pub const NODE_COUNT: usize = 2;

pub fn node_name(i: usize) -> String {
    format!("kwok-node-{i}")
}

/// The kwok configuration: every stage asset of the kwok tool, as one
/// multi-document YAML file.
pub fn kwok_config(stage_files: &[std::path::PathBuf]) -> std::io::Result<String> {
    let mut out = String::new();
    for file in stage_files {
        out.push_str("---\n");
        out.push_str(&std::fs::read_to_string(file)?);
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

fn node_manifest(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {
                KWOK_ANNOTATION: "fake",
                "node.alpha.kubernetes.io/ttl": "0",
            },
            "labels": {
                "type": "kwok",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/os": "linux",
                "kubernetes.io/hostname": name,
            },
        },
        "status": {
            "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
            "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"},
        },
    })
}

/// Creates (or re-applies) the fake nodes.
pub async fn apply_nodes(client: &kube::Client) -> Result<(), kube::Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    let params = PatchParams::apply("driftless-testkit").force();
    for i in 0..NODE_COUNT {
        let name = node_name(i);
        nodes
            .patch(&name, &params, &Patch::Apply(node_manifest(&name)))
            .await?;
        // Capacity lives in status, which the main resource ignores on apply.
        nodes
            .patch_status(&name, &params, &Patch::Apply(node_manifest(&name)))
            .await?;
    }
    Ok(())
}

/// Ready, and schedulable: the node-lifecycle controller has lifted the
/// not-ready taint the API server puts on every new node.
fn is_ready(node: &Node) -> bool {
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    let tainted = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|ts| ts.iter().any(|t| t.key.starts_with("node.kubernetes.io/")));
    ready && !tainted
}

/// Waits until every fake node reports Ready=True, or `timeout` passes.
/// Returns the names still not ready on timeout.
pub async fn wait_nodes_ready(client: &kube::Client, timeout: Duration) -> Result<(), Vec<String>> {
    let nodes: Api<Node> = Api::all(client.clone());
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let mut pending = Vec::new();
        for i in 0..NODE_COUNT {
            let name = node_name(i);
            match nodes.get_opt(&name).await {
                Ok(Some(node)) if is_ready(&node) => {}
                _ => pending.push(name),
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(pending);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_manifests_carry_the_kwok_annotation_and_capacity() {
        let node: Node = serde_json::from_value(node_manifest("n1")).unwrap();
        let annotations = node.metadata.annotations.unwrap();
        assert_eq!(annotations[KWOK_ANNOTATION], "fake");
        let status = node.status.unwrap();
        assert_eq!(status.allocatable.unwrap()["pods"].0, "110");
        assert!(!is_ready(
            &serde_json::from_value(node_manifest("n2")).unwrap()
        ));
    }

    #[test]
    fn kwok_config_joins_stage_files_as_yaml_documents() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.yaml");
        let b = dir.path().join("b.yaml");
        std::fs::write(&a, "kind: Stage\nmetadata: {name: a}").unwrap();
        std::fs::write(&b, "kind: Stage\nmetadata: {name: b}\n").unwrap();
        let text = kwok_config(&[a, b]).unwrap();
        assert_eq!(text.matches("---\n").count(), 2);
        assert!(text.contains("{name: a}\n---\n"));
    }
}
