//! Health assessment against the local control plane: kwok nodes run the pods, kstatus decides.

mod common;

use std::time::Duration;

use common::{apply, manager};
use driftless_ssa::kstatus::Status;
use driftless_ssa::{SsaError, inventory};
use testkit::TestNamespace;

fn deployment(name: &str, pod_spec_extra: &str) -> String {
    format!(
        r#"---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
{pod_spec_extra}      containers:
      - name: app
        image: example.invalid/app:1.0
"#
    )
}

const JOB: &str = r#"---
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: example.invalid/migrate:1.0
"#;

#[tokio::test]
async fn a_deployment_becomes_healthy_on_kwok_nodes_and_a_job_completes() -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    let ns = TestNamespace::create(&cluster, "ssa-health").await?;
    let mgr = manager(&cluster, &ns, "health");
    let set = format!("{}{JOB}", deployment("web", ""));
    let applied = apply(&mgr, &set).await?;
    let inventory = inventory::from_change_set(&applied);

    let report = mgr
        .wait(&inventory.entries, Duration::from_secs(120))
        .await?;
    assert_eq!(report.entries.len(), 2);
    for entry in &report.entries {
        assert_eq!(entry.status, Status::Current, "{entry}");
    }
    let job = report
        .entries
        .iter()
        .find(|e| e.object.kind == "Job")
        .ok_or_else(|| anyhow::anyhow!("no Job in {report:?}"))?;
    assert!(job.message.starts_with("Job Completed"), "{job}");

    // Server-defaulted fields (selectors, controller-uid labels) are not drift.
    let again = apply(&mgr, &set).await?;
    assert!(
        again
            .entries
            .iter()
            .all(|e| e.action == driftless_ssa::Action::Unchanged),
        "{again}"
    );
    Ok(())
}

#[tokio::test]
async fn a_deployment_that_cannot_be_scheduled_times_out_naming_it_and_its_status()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    let ns = TestNamespace::create(&cluster, "ssa-unhealthy").await?;
    let mgr = manager(&cluster, &ns, "unhealthy");
    let nowhere = "      nodeSelector: {driftless.dev/no-such-node: \"true\"}\n";
    let applied = apply(&mgr, &deployment("stuck", nowhere)).await?;
    let inventory = inventory::from_change_set(&applied);

    let err = mgr
        .wait(&inventory.entries, Duration::from_secs(5))
        .await
        .expect_err("no node matches");
    let SsaError::HealthCheck { message, report } = &err else {
        anyhow::bail!("expected a health-check error, got {err}");
    };
    let subject = format!("Deployment/{}/stuck", ns.name());
    assert!(
        message.starts_with("timeout waiting for: [") && message.contains(&subject),
        "{message}"
    );
    assert!(message.contains("status: 'InProgress'"), "{message}");
    assert_eq!(report.not_ready().len(), 1);
    Ok(())
}

#[tokio::test]
async fn waiting_for_an_object_that_does_not_exist_reports_it_not_found_unless_gone_means_finished()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    let ns = TestNamespace::create(&cluster, "ssa-missing").await?;
    let mgr = manager(&cluster, &ns, "missing");
    let entry = driftless_api::apply::ResourceRef {
        id: format!("{}_ghost__ConfigMap", ns.name()),
        v: "v1".into(),
    };
    let err = mgr
        .wait(std::slice::from_ref(&entry), Duration::from_secs(1))
        .await
        .expect_err("missing");
    assert!(
        err.to_string()
            .contains(&format!("ConfigMap/{}/ghost status: 'NotFound'", ns.name())),
        "{err}"
    );
    // The same missing object, when being gone is its finished state (a Job with a TTL).
    let target = driftless_ssa::wait::Target::from_ref(&entry)?.current_when_gone();
    let report = mgr.wait_for(&[target], Duration::from_secs(1)).await?;
    assert_eq!(report.entries[0].status, Status::Current);
    Ok(())
}
