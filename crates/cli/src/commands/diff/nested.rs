//! `diff --recursive`: a Kustomization of the build that already exists in the cluster is
//! diffed from its local source (`--local-sources`), and when it would change, its report
//! follows a `📁 Kustomization/<namespace>/<name> changed` line. A nested Kustomization that
//! deploys to another cluster (`spec.kubeConfig`) is skipped with a warning, as flux does.

use driftless_api::kustomize::Kustomization;
use driftless_ssa::diff::ObjectDiff;
use serde_json::Value;

use super::super::CommandError;
use super::super::build::LocalBuild;
use super::super::build::recursive::{MAX_NESTING, build_nested, nested};
use super::super::cluster::ClusterError;
use super::{Outcome, built_object, diff_built};

/// Diffs the nested Kustomization `entry` stands for, if it is one, into `outcome`.
pub(super) async fn diff_nested(
    client: &kube::Client,
    parent: &Kustomization,
    objects: &[Value],
    entry: &ObjectDiff,
    local: &LocalBuild,
    depth: usize,
    outcome: &mut Outcome,
) -> Result<(), CommandError> {
    let meta = &entry.object;
    let object = built_object(objects, meta);
    let Some(found) = object.map(|o| nested(o, parent)).transpose()?.flatten() else {
        return Ok(());
    };
    let subject = meta.subject();
    if found.spec.kube_config.is_some() {
        outcome.out.push_str(&format!(
            "⚠️ {subject} skipped: diff not supported for remote clusters\n"
        ));
        return Ok(());
    }
    if depth + 1 >= MAX_NESTING {
        return Err(ClusterError::Failed(format!(
            "{subject} nests Kustomizations more than {MAX_NESTING} levels deep"
        ))
        .into());
    }
    let sub = match build_nested(Some(client), found, local).await {
        Ok(built) => Box::pin(diff_built(client, built, local, depth + 1)).await,
        Err(e) => Err(e),
    };
    match sub {
        Ok(sub) => {
            outcome.errors.extend(sub.errors);
            if sub.changed {
                outcome.changed = true;
                outcome.out.push_str(&format!("📁 {subject} changed\n"));
                outcome.out.push_str(&sub.out);
            }
        }
        // Flux gathers a nested diff's error and goes on with the rest.
        Err(e) => outcome.errors.push(e.to_string()),
    }
    Ok(())
}
