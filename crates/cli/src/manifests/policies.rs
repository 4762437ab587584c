//! The NetworkPolicies Flux installs in its namespace.

use serde_json::{Value, json};

use driftless_api::crd::component;

use super::Install;
use super::controllers::{HTTP_PROM, HTTP_WEBHOOK};

/// `allow-egress` (controllers reach anything; only pods of the namespace reach them),
/// `allow-scraping` (metrics from any namespace) and `allow-webhooks` (Receivers from anywhere).
pub fn network_policies(install: &Install) -> Vec<Value> {
    let policy = |name: &str, spec: Value| {
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {
                "name": name,
                "namespace": install.namespace,
                "labels": install.labels(None),
            },
            "spec": spec,
        })
    };
    let from_any_namespace_on = |port: i32| {
        json!([{
            "from": [{"namespaceSelector": {}}],
            "ports": [{"protocol": "TCP", "port": port}],
        }])
    };
    vec![
        policy(
            "allow-egress",
            json!({
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": [{"podSelector": {}}]}],
                "egress": [{}],
            }),
        ),
        policy(
            "allow-scraping",
            json!({
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": from_any_namespace_on(HTTP_PROM.number),
            }),
        ),
        policy(
            "allow-webhooks",
            json!({
                "podSelector": {"matchLabels": {"app": component::NOTIFICATION_CONTROLLER}},
                "policyTypes": ["Ingress"],
                "ingress": from_any_namespace_on(HTTP_WEBHOOK.number),
            }),
        ),
    ]
}
