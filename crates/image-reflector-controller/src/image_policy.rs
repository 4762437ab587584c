//! One ImagePolicy reconcile in Flux's order: `digestReflectionPolicy: Always` needs
//! `spec.interval`; the referenced ImageRepository (cross-namespace refusal, `accessFrom`);
//! its image name; the policy over its stored tags; the digest when the reflection policy asks;
//! then `latestRef` (moving the old one to `observedPreviousRef` when it changed) and Ready
//! "Latest image tag for <image> resolved to <tag>".

use std::sync::Arc;
use std::time::Duration;

use driftless_api::image::{
    DigestReflectionPolicy, ImagePolicy, ImagePolicyStatus, ImageRef, ImageRepository,
};
use driftless_runtime::draft::StatusDraft;
use driftless_runtime::lifecycle::{Entry, enter};
use driftless_runtime::object::FluxObject;
use driftless_runtime::patch::{remove_finalizer, status_field_manager};
use driftless_runtime::summary::Next;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;

use crate::error::{ReconcileError, duration};
use crate::policy::{self, Policer};
use crate::reconcile::{Context, Done, conclude, key};
use crate::{image_ref, registry};

/// The metrics and workqueue name of this reconciler.
pub const METRICS_CONTROLLER: &str = "imagepolicy";

/// Reconciles one ImagePolicy; errors returned here are only failures to write the status or
/// finalizer.
pub async fn reconcile(
    policy: Arc<ImagePolicy>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let timer = ctx
        .metrics
        .as_ref()
        .map(|m| m.start(METRICS_CONTROLLER, policy.as_ref()));
    let api: Api<ImagePolicy> =
        Api::namespaced(ctx.client.clone(), &policy.namespace().unwrap_or_default());
    let manager = status_field_manager(crate::CONTROLLER_NAME);
    let next = match enter(&api, &policy, &manager)
        .await
        .map_err(ReconcileError::patch)?
    {
        Entry::Finalize => {
            remove_finalizer(&api, policy.as_ref(), &manager)
                .await
                .map_err(ReconcileError::patch)?;
            if let Some(metrics) = &ctx.metrics {
                metrics.delete_object(policy.as_ref());
            }
            Next::AwaitChange
        }
        Entry::Skip => Next::AwaitChange,
        Entry::Reconcile(policy) => {
            let mut draft = policy.begin_draft(Time(jiff::Timestamp::now()));
            let mut status = policy.status.clone().unwrap_or_default();
            let result = run(&ctx, &policy, &mut status, &mut draft).await;
            conclude(&ctx, &api, policy.as_ref(), status, draft, result).await?
        }
    };
    if let Some(timer) = timer {
        timer.finish(next);
    }
    Ok(ctx.scheduler.action(&key(policy.as_ref()), next))
}

/// The namespace and name of the ImageRepository `policy` refers to.
pub fn repository_key(policy: &ImagePolicy) -> (String, String) {
    let reference = &policy.spec.image_repository_ref;
    let namespace = reference
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| policy.namespace().unwrap_or_default());
    (namespace, reference.name.clone())
}

/// Whether `namespace_labels` (of the policy's namespace) match any of the repository's
/// `accessFrom.namespaceSelectors`; an empty `matchLabels` matches every namespace.
pub fn access_granted(
    repo: &ImageRepository,
    namespace_labels: &std::collections::BTreeMap<String, String>,
) -> bool {
    repo.spec.access_from.as_ref().is_some_and(|acl| {
        acl.namespace_selectors.iter().any(|selector| {
            selector
                .match_labels
                .iter()
                .flatten()
                .all(|(k, v)| namespace_labels.get(k) == Some(v))
        })
    })
}

/// The referenced ImageRepository, if this policy may use it.
async fn repository(
    ctx: &Context,
    policy: &ImagePolicy,
) -> Result<ImageRepository, ReconcileError> {
    let own = policy.namespace().unwrap_or_default();
    let (namespace, name) = repository_key(policy);
    let denied = |message: String| ReconcileError::AccessDenied { message };
    if ctx.no_cross_namespace_refs && namespace != own {
        return Err(denied(format!(
            "cannot access 'ImageRepository/{namespace}/{name}', cross-namespace references have been blocked"
        )));
    }
    let api: Api<ImageRepository> = Api::namespaced(ctx.client.clone(), &namespace);
    let repo = api
        .get_opt(&name)
        .await
        .map_err(|source| ReconcileError::Read {
            subject: format!("ImageRepository '{namespace}/{name}'"),
            source: Box::new(source),
        })?
        .ok_or_else(|| ReconcileError::RepositoryNotFound { name: name.clone() })?;
    if namespace == own {
        return Ok(repo);
    }
    if repo.spec.access_from.is_none() {
        return Err(denied(format!(
            "access denied: '{namespace}/{name}' can't be accessed due to missing ACL labels on 'accessFrom'"
        )));
    }
    let namespaces: Api<Namespace> = Api::all(ctx.client.clone());
    let labels = namespaces
        .get(&own)
        .await
        .map_err(|source| ReconcileError::Read {
            subject: format!("Namespace '{own}'"),
            source: Box::new(source),
        })?
        .labels()
        .clone();
    if access_granted(&repo, &labels) {
        return Ok(repo);
    }
    Err(denied(format!(
        "access denied: '{namespace}/{name}' can't be accessed due to labels mismatch on namespace '{own}'"
    )))
}

/// Flux's Ready message for a resolved policy.
pub fn ready_message(latest: &ImageRef, previous: Option<&ImageRef>) -> String {
    let mut message = format!(
        "Latest image tag for {} resolved to {}",
        latest.name, latest.tag
    );
    if let Some(digest) = latest.digest.as_deref().filter(|d| !d.is_empty()) {
        message.push_str(&format!(" with digest {digest}"));
    }
    if let Some(previous) = previous.filter(|p| *p != latest) {
        message.push_str(&format!(" (previously {previous})"));
    }
    message
}

/// Whether the digest is looked up this time.
pub fn needs_digest(
    policy: DigestReflectionPolicy,
    current: Option<&ImageRef>,
    name: &str,
    tag: &str,
) -> bool {
    match policy {
        DigestReflectionPolicy::Never => false,
        DigestReflectionPolicy::Always => true,
        DigestReflectionPolicy::IfNotPresent => !current.is_some_and(|c| {
            c.name == name && c.tag == tag && c.digest.as_deref().is_some_and(|d| !d.is_empty())
        }),
    }
}

async fn run(
    ctx: &Context,
    policy: &ImagePolicy,
    status: &mut ImagePolicyStatus,
    draft: &mut StatusDraft,
) -> Result<Done, ReconcileError> {
    let reflect = policy.spec.digest_reflection_policy.unwrap_or_default();
    let interval = match policy.spec.interval.as_deref() {
        Some(value) => Some(duration(value, "spec.interval")?),
        None if reflect == DigestReflectionPolicy::Always => {
            return Err(ReconcileError::IntervalNotConfigured);
        }
        None => None,
    };
    draft.progressing("reconciliation in progress");
    let repo = repository(ctx, policy).await?;
    let reference = image_ref::parse(&repo.spec.image)?;
    Policer::from_spec(&policy.spec.policy)?;

    let store = Arc::clone(&ctx.store);
    let (namespace, name) = (repo.namespace().unwrap_or_default(), repo.name_any());
    let tags = tokio::task::spawn_blocking(move || store.tags(&namespace, &name))
        .await
        .map_err(|e| ReconcileError::Task {
            message: e.to_string(),
        })?
        .map_err(|source| ReconcileError::StoreRead { source })?;
    if tags.is_empty() {
        return Err(ReconcileError::NoTags);
    }
    let tag = policy::select(&policy.spec.policy, policy.spec.filter_tags.as_ref(), &tags)?;

    let current = status.latest_ref.clone();
    let mut latest = ImageRef {
        name: repo.spec.image.clone(),
        tag: tag.clone(),
        digest: None,
    };
    if needs_digest(reflect, current.as_ref(), &latest.name, &tag) {
        let timeout = match repo.spec.timeout.as_deref() {
            Some(value) => duration(value, "spec.timeout")?,
            None => duration(&repo.spec.interval, "spec.interval")?,
        };
        let client = registry::client_for(&ctx.client, &repo, &reference, timeout).await?;
        let digest = client
            .resolve_digest(&reference.with_tag(&tag))
            .await
            .map_err(|source| ReconcileError::Digest {
                image: format!("{}:{tag}", latest.name),
                source,
            })?;
        latest.digest = Some(digest);
    } else if reflect == DigestReflectionPolicy::IfNotPresent {
        latest.digest = current.as_ref().and_then(|c| c.digest.clone());
    }
    if current.as_ref() != Some(&latest) {
        status.observed_previous_ref = current;
        status.latest_ref = Some(latest.clone());
    }
    let message = ready_message(&latest, status.observed_previous_ref.as_ref());
    Ok(Done {
        trace: message.clone(),
        message,
        next: interval.map(|d| d.max(Duration::from_secs(1))),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use driftless_api::meta::{AccessFrom, NamespaceSelector};

    use super::*;

    fn image(tag: &str, digest: Option<&str>) -> ImageRef {
        ImageRef {
            name: "ghcr.io/org/app".into(),
            tag: tag.into(),
            digest: digest.map(str::to_owned),
        }
    }

    #[test]
    fn the_ready_message_names_image_tag_digest_and_previous_ref() {
        assert_eq!(
            ready_message(&image("1.2.4", None), None),
            "Latest image tag for ghcr.io/org/app resolved to 1.2.4"
        );
        assert_eq!(
            ready_message(
                &image("1.2.4", Some("sha256:b")),
                Some(&image("1.2.3", Some("sha256:a")))
            ),
            "Latest image tag for ghcr.io/org/app resolved to 1.2.4 with digest sha256:b (previously ghcr.io/org/app:1.2.3@sha256:a)"
        );
        // A previous ref equal to the latest is not mentioned.
        assert_eq!(
            ready_message(&image("1.2.4", None), Some(&image("1.2.4", None))),
            "Latest image tag for ghcr.io/org/app resolved to 1.2.4"
        );
    }

    #[test]
    fn digests_are_fetched_as_the_reflection_policy_says() {
        let with = image("1.0.0", Some("sha256:a"));
        let without = image("1.0.0", None);
        let name = "ghcr.io/org/app";
        assert!(!needs_digest(
            DigestReflectionPolicy::Never,
            None,
            name,
            "1.0.0"
        ));
        assert!(needs_digest(
            DigestReflectionPolicy::Always,
            Some(&with),
            name,
            "1.0.0"
        ));
        assert!(needs_digest(
            DigestReflectionPolicy::IfNotPresent,
            None,
            name,
            "1.0.0"
        ));
        assert!(needs_digest(
            DigestReflectionPolicy::IfNotPresent,
            Some(&without),
            name,
            "1.0.0"
        ));
        assert!(!needs_digest(
            DigestReflectionPolicy::IfNotPresent,
            Some(&with),
            name,
            "1.0.0"
        ));
        assert!(needs_digest(
            DigestReflectionPolicy::IfNotPresent,
            Some(&with),
            name,
            "1.0.1"
        ));
        assert!(needs_digest(
            DigestReflectionPolicy::IfNotPresent,
            Some(&with),
            "other",
            "1.0.0"
        ));
    }

    fn repo_with_selectors(selectors: Vec<Option<BTreeMap<String, String>>>) -> ImageRepository {
        let mut repo = ImageRepository::new("r", Default::default());
        repo.spec.access_from = Some(AccessFrom {
            namespace_selectors: selectors
                .into_iter()
                .map(|match_labels| NamespaceSelector { match_labels })
                .collect(),
        });
        repo
    }

    #[test]
    fn access_from_matches_namespace_labels_and_an_empty_selector_matches_all() {
        let labels = BTreeMap::from([("team".to_owned(), "a".to_owned())]);
        let team_a = BTreeMap::from([("team".to_owned(), "a".to_owned())]);
        let team_b = BTreeMap::from([("team".to_owned(), "b".to_owned())]);
        assert!(access_granted(
            &repo_with_selectors(vec![Some(team_a)]),
            &labels
        ));
        assert!(!access_granted(
            &repo_with_selectors(vec![Some(team_b)]),
            &labels
        ));
        assert!(access_granted(
            &repo_with_selectors(vec![Some(BTreeMap::new())]),
            &labels
        ));
        assert!(access_granted(
            &repo_with_selectors(vec![None]),
            &BTreeMap::new()
        ));
        assert!(!access_granted(&repo_with_selectors(vec![]), &labels));
        assert!(!access_granted(
            &ImageRepository::new("r", Default::default()),
            &labels
        ));
    }

    #[test]
    fn the_repository_defaults_to_the_policy_namespace() {
        let mut policy = ImagePolicy::new("p", Default::default());
        policy.metadata.namespace = Some("apps".into());
        policy.spec.image_repository_ref.name = "r".into();
        assert_eq!(repository_key(&policy), ("apps".into(), "r".into()));
        policy.spec.image_repository_ref.namespace = Some("infra".into());
        assert_eq!(repository_key(&policy), ("infra".into(), "r".into()));
    }
}
