//! `driftless export <kind> [name] [--all]`: objects as YAML a user can commit, as flux exports
//! them: apiVersion, kind, name, namespace, labels, annotations and spec; no status, no server
//! bookkeeping (uid, resourceVersion, generation, creationTimestamp, managedFields, finalizers).

use clap::Args;
use driftless_runtime::flags::GoDuration;
use kube::api::ListParams;
use serde_json::{Map, Value, json};

use super::CommandError;
use super::cluster::{ClusterError, KubeArgs, block_on, is_not_found};
use super::kinds::FluxKind;
use super::output::Printer;
use super::target::{Target, fetch};
use crate::yaml;

/// Arguments of `driftless export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Export every object of the kind in the namespace.
    #[arg(long, global = true)]
    pub all: bool,
    #[command(subcommand)]
    pub target: Target,
}

/// Runs `driftless export`.
pub fn run(args: &ExportArgs) -> Result<(), CommandError> {
    block_on(async {
        let client = args.kube.client().await?;
        export(&client, args, &mut Printer::stdio()).await
    })
}

/// Prints the named objects (or all of them with `--all`) as a `---` YAML stream.
pub async fn export(
    client: &kube::Client,
    args: &ExportArgs,
    printer: &mut Printer<'_>,
) -> Result<(), CommandError> {
    let (kind, names) = args.target.resolve();
    let namespace = args.kube.namespace.as_str();
    let objects = if args.all {
        let list = kind
            .api(client, Some(namespace))
            .list(&ListParams::default())
            .await
            .map_err(|e| {
                if is_not_found(&e) {
                    kind.crd_missing()
                } else {
                    ClusterError::api(format!("listing {}", kind.plural), e)
                }
            })?;
        if list.items.is_empty() {
            return Err(ClusterError::NoneFound {
                kind: kind.kind.to_owned(),
                namespace: format!("{namespace:?}"),
            }
            .into());
        }
        list.items
            .into_iter()
            .filter_map(|o| serde_json::to_value(o).ok())
            .collect()
    } else {
        let [name] = names else {
            return Err(ClusterError::Invalid(format!("{} name is required", kind.kind)).into());
        };
        vec![fetch(client, kind, namespace, name).await?]
    };
    let exported: Vec<Value> = objects.iter().map(|o| clean(kind, o)).collect();
    printer.print(&yaml::go_stream(&exported)?)
}

/// The exportable part of `object`.
pub fn clean(kind: FluxKind, object: &Value) -> Value {
    let mut metadata = Map::new();
    for field in ["name", "namespace", "labels", "annotations"] {
        match object.pointer(&format!("/metadata/{field}")) {
            Some(Value::Object(m)) if m.is_empty() => {}
            Some(value) => {
                metadata.insert(field.to_owned(), value.clone());
            }
            None => {}
        }
    }
    json!({
        "apiVersion": kind.api_version(),
        "kind": kind.kind,
        "metadata": metadata,
        "spec": as_go_writes(object.get("spec").cloned().unwrap_or_else(|| json!({}))),
    })
}

/// The spec as flux's typed Go structs write it back: durations in Go's form (`10m` becomes
/// `10m0s`) and `false` booleans left out (they are `omitempty` in Flux's API types; `prune`
/// is the one required boolean and stays).
fn as_go_writes(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(key, v)| key == "prune" || *v != Value::Bool(false))
                .map(|(key, v)| {
                    let v = match (&v, DURATIONS.contains(&key.as_str())) {
                        (Value::String(text), true) => text
                            .parse::<GoDuration>()
                            .map_or(v.clone(), |d| Value::String(d.to_string())),
                        _ => as_go_writes(v),
                    };
                    (key, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(as_go_writes).collect()),
        scalar => scalar,
    }
}

/// Spec fields of Flux kinds that are Go durations.
const DURATIONS: [&str; 4] = ["interval", "timeout", "retryInterval", "healthCheckTimeout"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::kinds;

    #[test]
    fn export_drops_status_and_server_bookkeeping() {
        let live = json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": "flux-system", "uid": "1", "resourceVersion": "7",
                "generation": 2, "creationTimestamp": "2026-01-01T00:00:00Z", "finalizers": ["finalizers.fluxcd.io"],
                "managedFields": [{"manager": "x"}], "labels": {"team": "a"}, "annotations": {}},
            "spec": {"interval": "5m", "path": "./apps", "prune": true, "force": false, "suspend": false,
                "sourceRef": {"kind": "GitRepository", "name": "flux-system"}},
            "status": {"observedGeneration": 2}
        });
        let text = yaml::go_stream(&[clean(kinds::KUSTOMIZATION, &live)]).expect("renders");
        assert_eq!(
            text,
            "---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  labels:\n    team: a\n  name: apps\n  namespace: flux-system\nspec:\n  interval: 5m0s\n  path: ./apps\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n"
        );
    }
}
