//! The Git half of a run, on a blocking thread: clone the checkout branch, apply the
//! setters, commit with the rendered message, push. When the push finds the remote moved
//! (a concurrent commit), the whole run is repeated once on the new tip, so the change is
//! re-derived rather than lost or forced over someone else's commit.

use std::collections::BTreeMap;
use std::time::Duration;

use driftless_api::image::ImageRef;
use driftless_git::{
    Auth, CloneOptions, CommitMessage, FileChange, PushOptions, PushTarget, Signature,
    clone_branch, push,
};

use crate::error::ReconcileError;
use crate::setters::{Field, Marker};
use crate::update::{UpdateResult, update_with_setters};

/// Everything one run needs, resolved from the cluster beforehand.
#[derive(Clone, Debug)]
pub struct Plan {
    pub url: String,
    pub auth: Auth,
    pub timeout: Duration,
    pub shallow: bool,
    pub checkout_branch: String,
    pub targets: Vec<PushTarget>,
    pub push_options: Vec<String>,
    /// Relative to the repository root, already cleaned.
    pub update_path: String,
    /// Latest image by `<namespace>:<policy name>`.
    pub images: BTreeMap<String, ImageRef>,
    pub author_name: String,
    pub author_email: String,
    pub message: MessageInput,
    /// The `observedSourceRevision` of the last run, set only when the policies and the
    /// generation are unchanged since: if the checkout branch still points there, the run
    /// is skipped after one ref listing (Flux's shortcut), without a clone.
    pub unchanged_since: Option<String>,
    /// `spec.git.commit.signingKey`, unlocked: the commit gets a `gpgsig` signature.
    pub signing_key: Option<std::sync::Arc<driftless_git::SigningKey>>,
}

/// The inputs of the commit message template.
#[derive(Clone, Debug, Default)]
pub struct MessageInput {
    pub template: Option<String>,
    pub namespace: String,
    pub name: String,
    pub values: BTreeMap<String, String>,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every marker already had its value: nothing was committed.
    UpToDate { revision: String },
    /// A commit was pushed to every target.
    Pushed {
        commit: String,
        /// The source revision after the run (the pushed commit when it went to the
        /// checkout branch).
        revision: String,
        result: UpdateResult,
    },
}

/// Run the plan, retrying once from a fresh clone if the remote moved during the push.
pub fn run(plan: &Plan) -> Result<Outcome, ReconcileError> {
    match run_once(plan) {
        Err(ReconcileError::Push(e)) if e.remote_moved() => {
            tracing::info!(url = %plan.url, error = %e, "remote moved during push; retrying on the new tip");
            run_once(plan)
        }
        other => other,
    }
}

fn run_once(plan: &Plan) -> Result<Outcome, ReconcileError> {
    if let Some(observed) = &plan.unchanged_since {
        let refs = driftless_git::ls_remote(&plan.url, &plan.auth, plan.timeout)?;
        let full = format!("refs/heads/{}", plan.checkout_branch);
        if let Some(tip) = refs.iter().find(|r| r.name == full) {
            let revision =
                driftless_git::reference::revision(Some(&plan.checkout_branch), tip.commit());
            if &revision == observed {
                return Ok(Outcome::UpToDate { revision });
            }
        }
    }
    let dir = tempfile::Builder::new()
        .prefix("image-automation-")
        .tempdir()
        .map_err(|source| crate::update::UpdateError::Io {
            operation: "creating a clone directory in",
            path: std::env::temp_dir(),
            source,
        })?;
    let options = CloneOptions {
        auth: plan.auth.clone(),
        timeout: plan.timeout,
        shallow: plan.shallow,
        ..CloneOptions::default()
    };
    let mut clone = clone_branch(&plan.url, &plan.checkout_branch, dir.path(), &options)?;
    let updated = update_with_setters(dir.path(), &plan.update_path, |m| value_of(plan, m))?;
    if updated.result.is_empty() {
        return Ok(Outcome::UpToDate {
            revision: clone.head.revision.clone(),
        });
    }
    let message = crate::message::render(
        plan.message.template.as_deref(),
        &plan.message.namespace,
        &plan.message.name,
        &plan.message.values,
        &updated.result,
    )?;
    let who = Signature {
        name: plan.author_name.clone(),
        email: plan.author_email.clone(),
        time: jiff::Timestamp::now().as_second(),
    };
    let changes: Vec<FileChange> = updated
        .files
        .into_iter()
        .map(|(path, contents)| FileChange::Write { path, contents })
        .collect();
    let commit = clone.commit_signed(
        &changes,
        &CommitMessage {
            author: who.clone(),
            committer: who,
            message,
        },
        plan.signing_key.as_deref(),
    )?;
    let Some(commit) = commit else {
        // The files differ only where the rewrite produced identical bytes.
        return Ok(Outcome::UpToDate {
            revision: clone.head.revision.clone(),
        });
    };
    let pushed = push(
        &clone,
        &plan.targets,
        &PushOptions {
            timeout: plan.timeout,
            push_options: plan.push_options.clone(),
            auth: None,
        },
    )?;
    let checkout_ref = format!("refs/heads/{}", plan.checkout_branch);
    let revision = if plan.targets.iter().any(|t| t.destination == checkout_ref) {
        commit.revision
    } else {
        clone.head.revision.clone()
    };
    Ok(Outcome::Pushed {
        commit: pushed.commit,
        revision,
        result: updated.result,
    })
}

/// A marker's new value from its policy's latest image.
fn value_of(plan: &Plan, marker: &Marker) -> Option<String> {
    let image = plan.images.get(&marker.policy)?;
    match marker.field {
        Field::Image => Some(image.to_string()),
        Field::Tag => Some(image.tag.clone()),
        Field::Name => Some(image.name.clone()),
        Field::Digest => image.digest.clone().filter(|d| !d.is_empty()),
    }
}
