//! The status patch and finalizers against the real local control plane: one server-side apply on
//! the status subresource under Flux's field manager, read back as the API server stored it.

mod common;

use std::time::Duration;

use driftless_api::annotations::{FINALIZER, RECONCILE_REQUESTED_AT};
use driftless_api::conditions::{self, HasConditions, reasons, status, types};
use driftless_api::source::GitRepository;
use driftless_runtime::error::{Classify, ErrorClass};
use driftless_runtime::object::{FluxObject, ReconcileStatus};
use driftless_runtime::patch::{
    add_finalizer, patch_status, remove_finalizer, status_field_manager,
};
use driftless_runtime::summary::{Outcome, Schedule, SummaryRules, summarize};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde_json::json;

const RULES: SummaryRules = SummaryRules {
    summarize: &[
        types::FETCH_FAILED,
        types::ARTIFACT_IN_STORAGE,
        types::STALLED,
        types::RECONCILING,
    ],
    negative_polarity: &[types::FETCH_FAILED, types::STALLED, types::RECONCILING],
};

const SCHEDULE: Schedule = Schedule {
    interval: Duration::from_secs(60),
    retry_interval: None,
    requeue_dependency: Duration::from_secs(30),
};

#[derive(Debug, thiserror::Error)]
#[error("failed to checkout and determine revision")]
struct CloneFailed;

impl Classify for CloneFailed {
    fn reason(&self) -> &'static str {
        reasons::GIT_OPERATION_FAILED
    }
    fn class(&self) -> ErrorClass {
        ErrorClass::Transient
    }
}

fn now() -> Time {
    Time(Timestamp::now())
}

#[tokio::test]
async fn a_summarised_status_is_written_in_one_apply_under_fluxs_field_manager()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    common::install_gitrepository_crd(&cluster.client).await?;
    let ns = testkit::TestNamespace::create(&cluster, "runtime-status").await?;
    let requested = "2026-11-26T04:00:00.000000000Z";
    let obj = common::create_gitrepository(
        &cluster.client,
        ns.name(),
        "podinfo",
        json!({ RECONCILE_REQUESTED_AT: requested }),
    )
    .await?;
    let api: Api<GitRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    let manager = status_field_manager("source-controller");

    // Success: Ready=True from ArtifactInStorage, observedGeneration, lastHandledReconcileAt.
    let mut draft = obj.begin_draft(now());
    draft.mark_true(
        types::ARTIFACT_IN_STORAGE,
        reasons::SUCCEEDED,
        "stored artifact for revision 'main@sha1:abc'",
    );
    let summary = summarize(draft, Outcome::Success, &RULES, &SCHEDULE);
    let mut status = obj.status().cloned().unwrap_or_default();
    status.apply_summary(&summary);
    patch_status(&api, &obj, &status, &manager).await?;

    let stored = api.get("podinfo").await?;
    let st = stored.status.clone().unwrap_or_default();
    let ready = conditions::find(st.conditions(), types::READY).expect("Ready stored");
    assert_eq!(ready.status, status::TRUE);
    assert_eq!(
        ready.message,
        "stored artifact for revision 'main@sha1:abc'"
    );
    assert_eq!(st.observed_generation, stored.meta().generation);
    assert_eq!(st.last_handled_reconcile_at.as_deref(), Some(requested));
    assert!(conditions::find(st.conditions(), types::RECONCILING).is_none());
    let entries: Vec<_> = stored
        .managed_fields()
        .iter()
        .filter(|m| m.subresource.as_deref() == Some("status"))
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].manager.as_deref(), Some("source-controller"));
    assert_eq!(entries[0].operation.as_deref(), Some("Apply"));

    // Failure: Ready=False with the error's reason, Reconciling=ProgressingWithRetry, and a
    // condition the steps dropped disappears with the same single apply.
    let mut draft = stored.begin_draft(now());
    draft.delete(types::ARTIFACT_IN_STORAGE);
    draft.mark_true(
        types::FETCH_FAILED,
        reasons::GIT_OPERATION_FAILED,
        "failed to checkout and determine revision",
    );
    let summary = summarize(draft, Outcome::Failed(&CloneFailed), &RULES, &SCHEDULE);
    let mut status = st.clone();
    status.apply_summary(&summary);
    patch_status(&api, &stored, &status, &manager).await?;

    let stored = api.get("podinfo").await?;
    let st = stored.status.clone().unwrap_or_default();
    let ready = conditions::find(st.conditions(), types::READY).expect("Ready stored");
    assert_eq!(ready.status, status::FALSE);
    assert_eq!(ready.reason, reasons::GIT_OPERATION_FAILED);
    let reconciling =
        conditions::find(st.conditions(), types::RECONCILING).expect("Reconciling stored");
    assert_eq!(reconciling.reason, reasons::PROGRESSING_WITH_RETRY);
    assert!(conditions::find(st.conditions(), types::ARTIFACT_IN_STORAGE).is_none());
    let order: Vec<&str> = st.conditions().iter().map(|c| c.type_.as_str()).collect();
    assert_eq!(order, ["Reconciling", "Ready", "FetchFailed"]);
    Ok(())
}

#[tokio::test]
async fn the_flux_finalizer_is_added_and_removed_without_touching_other_finalizers()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    common::install_gitrepository_crd(&cluster.client).await?;
    let ns = testkit::TestNamespace::create(&cluster, "runtime-finalizer").await?;
    let obj = common::create_gitrepository(&cluster.client, ns.name(), "app", json!({})).await?;
    let api: Api<GitRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    let manager = status_field_manager("source-controller");

    let other = json!({"metadata": {"finalizers": ["example.com/keep"]}});
    api.patch("app", &PatchParams::default(), &Patch::Merge(&other))
        .await?;
    let obj = api.get("app").await.unwrap_or(obj);

    let with = add_finalizer(&api, &obj, &manager).await?;
    assert_eq!(with.finalizers(), ["example.com/keep", FINALIZER]);
    let again = add_finalizer(&api, &with, &manager).await?;
    assert_eq!(
        again.finalizers(),
        ["example.com/keep", FINALIZER],
        "adding twice is a no-op"
    );

    let without = remove_finalizer(&api, &again, &manager)
        .await?
        .expect("object still exists");
    assert_eq!(without.finalizers(), ["example.com/keep"]);

    // Let the namespace go.
    let none = json!({"metadata": {"finalizers": null}});
    api.patch("app", &PatchParams::default(), &Patch::Merge(&none))
        .await?;
    Ok(())
}
