//! The actions against [`FakeCluster`] and [`MemoryStore`]: statuses and descriptions as Helm
//! records them, hook order and delete policies, what upgrades and rollbacks delete.

use std::collections::BTreeMap;
use std::future::Future;

use super::fake::FakeCluster;
use super::*;
use crate::chart::{Chart, File};

fn block<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn chart() -> Chart {
    Chart::from_files(vec![File {
        name: "Chart.yaml".into(),
        data: b"apiVersion: v2\nname: c\nversion: 1.0.0\n".to_vec(),
    }])
    .expect("chart")
}

fn cm(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n")
}

fn hook(name: &str, events: &str, weight: i32, policy: &str) -> String {
    let policy = if policy.is_empty() {
        String::new()
    } else {
        format!("\n    helm.sh/hook-delete-policy: {policy}")
    };
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\n  annotations:\n    helm.sh/hook: {events}\n    helm.sh/hook-weight: \"{weight}\"{policy}\n"
    )
}

fn rendered(docs: &[String]) -> Rendered {
    let files: BTreeMap<String, String> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| (format!("c/templates/t{i}.yaml"), d.clone()))
        .collect();
    Rendered::from_files("c", &files).expect("rendered")
}

fn install_req<'a>(chart: &'a Chart, docs: &[String]) -> Install<'a> {
    Install {
        name: "app".into(),
        namespace: "ns".into(),
        chart,
        values: crate::Values::new(),
        rendered: rendered(docs),
        crds: CrdPolicy::Create,
        replace: false,
        labels: BTreeMap::new(),
        common: Common::default(),
    }
}

fn upgrade_req<'a>(chart: &'a Chart, docs: &[String]) -> Upgrade<'a> {
    Upgrade {
        name: "app".into(),
        chart,
        values: crate::Values::new(),
        rendered: rendered(docs),
        crds: CrdPolicy::Skip,
        labels: BTreeMap::new(),
        common: Common::default(),
    }
}

/// A store holding revision 1 of `app` installed from `docs`, and the chart.
async fn installed(docs: &[String]) -> (Storage<MemoryStore>, Chart) {
    let storage = Storage::new(MemoryStore::default());
    let c = chart();
    install(&storage, &FakeCluster::default(), install_req(&c, docs))
        .await
        .expect("installs");
    (storage, c)
}

async fn statuses(storage: &Storage<MemoryStore>) -> Vec<(u32, String, String)> {
    storage
        .history("app")
        .await
        .expect("history")
        .into_iter()
        .map(|r| {
            let d = r.info.clone().unwrap_or_default().description;
            (r.version, r.status().to_string(), d)
        })
        .collect()
}

#[test]
fn hooks_run_by_weight_then_name_and_succeeded_ones_are_deleted_in_reverse() {
    block(async {
        let storage = Storage::new(MemoryStore::default());
        let cluster = FakeCluster::default();
        let c = chart();
        let docs = vec![
            cm("cfg"),
            hook("late", "pre-install", 5, "hook-succeeded"),
            hook("b-early", "pre-install", -1, "hook-succeeded"),
            hook("a-early", "pre-install", -1, ""),
            hook(
                "post",
                "post-install",
                0,
                "hook-succeeded,before-hook-creation",
            ),
        ];
        let rel = install(&storage, &cluster, install_req(&c, &docs))
            .await
            .expect("installs");
        assert_eq!(
            cluster.log(),
            vec![
                "delete-hook a-early",
                "create-hook a-early",
                "create-hook b-early",
                "create-hook late",
                "delete-hook late",
                "delete-hook b-early",
                "apply cfg",
                "delete-hook post",
                "create-hook post",
                "delete-hook post",
            ]
        );
        assert_eq!(rel.status(), Status::Deployed);
        let phases: Vec<(&str, &str)> = rel
            .hooks
            .iter()
            .map(|h| (h.name.as_str(), h.last_run.phase.as_str()))
            .collect();
        assert!(phases.iter().all(|(_, p)| *p == "Succeeded"), "{phases:?}");
        let defaulted = rel
            .hooks
            .iter()
            .find(|h| h.name == "a-early")
            .expect("hook");
        assert_eq!(defaulted.delete_policies, vec!["before-hook-creation"]);
        assert_eq!(
            statuses(&storage).await,
            vec![(1, "deployed".into(), "Install complete".into())]
        );
    });
}

#[test]
fn a_failing_hook_stops_the_install_is_deleted_under_hook_failed_and_fails_the_release() {
    block(async {
        let storage = Storage::new(MemoryStore::default());
        let cluster = FakeCluster {
            failing_hooks: vec!["bad".into()],
            ..FakeCluster::default()
        };
        let c = chart();
        let docs = vec![
            cm("cfg"),
            hook("bad", "pre-install", 0, "hook-failed"),
            hook("never", "pre-install", 1, "hook-succeeded"),
        ];
        let err = install(&storage, &cluster, install_req(&c, &docs))
            .await
            .expect_err("fails");
        assert_eq!(
            err.to_string(),
            "failed pre-install: job bad failed: BackoffLimitExceeded"
        );
        assert_eq!(cluster.log(), vec!["create-hook bad", "delete-hook bad"]);
        let history = storage.history("app").await.expect("history");
        assert_eq!(history[0].hooks[0].last_run.phase, "Failed");
        assert_eq!(
            statuses(&storage).await,
            vec![(
                1,
                "failed".into(),
                "Release \"app\" failed: failed pre-install: job bad failed: BackoffLimitExceeded"
                    .into()
            )]
        );
    });
}

#[test]
fn a_name_in_use_is_refused_unless_replacing_a_failed_release() {
    block(async {
        let storage = Storage::new(MemoryStore::default());
        let c = chart();
        let failing = FakeCluster {
            apply_error: Some("boom".into()),
            ..FakeCluster::default()
        };
        install(&storage, &failing, install_req(&c, &[cm("a")]))
            .await
            .expect_err("apply fails");
        let ok = FakeCluster::default();
        let err = install(&storage, &ok, install_req(&c, &[cm("a")]))
            .await
            .expect_err("name in use");
        assert_eq!(err.to_string(), "cannot re-use a name that is still in use");
        let mut req = install_req(&c, &[cm("a")]);
        req.replace = true;
        let rel = install(&storage, &ok, req).await.expect("replaces");
        assert_eq!(rel.version, 2);
        assert_eq!(
            statuses(&storage).await,
            vec![
                (
                    1,
                    "superseded".into(),
                    "Release \"app\" failed: boom".into()
                ),
                (2, "deployed".into(), "Install complete".into())
            ]
        );
    });
}

#[test]
fn objects_owned_elsewhere_stop_an_install_before_anything_is_recorded() {
    block(async {
        let storage = Storage::new(MemoryStore::default());
        let cluster = FakeCluster::default();
        let c = chart();
        let err = install(&storage, &cluster, install_req(&c, &[cm("foreign")]))
            .await
            .expect_err("conflict");
        assert!(
            err.to_string()
                .starts_with("Unable to continue with install: ConfigMap \"foreign\"")
        );
        assert!(storage.history("app").await.expect("history").is_empty());
        assert!(cluster.log().is_empty());
    });
}

#[test]
fn an_upgrade_supersedes_the_deployed_revision_and_deletes_what_it_dropped() {
    block(async {
        let storage = Storage::new(MemoryStore::default());
        let cluster = FakeCluster::default();
        let c = chart();
        install(&storage, &cluster, install_req(&c, &[cm("a"), cm("b")]))
            .await
            .expect("installs");
        cluster.clear();
        let mut req = upgrade_req(&c, &[cm("b"), cm("c"), hook("mig", "pre-upgrade", 0, "")]);
        req.common.wait = true;
        let rel = upgrade(&storage, &cluster, req).await.expect("upgrades");
        assert_eq!(rel.version, 2);
        assert_eq!(
            cluster.log(),
            vec![
                "delete-hook mig",
                "create-hook mig",
                "apply b,c",
                "delete a",
                "wait b,c"
            ]
        );
        assert_eq!(
            statuses(&storage).await,
            vec![
                (1, "superseded".into(), "Install complete".into()),
                (2, "deployed".into(), "Upgrade complete".into())
            ]
        );
    });
}

#[test]
fn a_failed_upgrade_leaves_the_deployed_revision_deployed_and_a_later_upgrade_starts_from_it() {
    block(async {
        let (storage, c) = installed(&[cm("a")]).await;
        let failing = FakeCluster {
            apply_error: Some("admission denied".into()),
            ..FakeCluster::default()
        };
        let err = upgrade(&storage, &failing, upgrade_req(&c, &[cm("b")]))
            .await
            .expect_err("fails");
        assert_eq!(err.to_string(), "admission denied");
        let ok = FakeCluster::default();
        upgrade(&storage, &ok, upgrade_req(&c, &[cm("b")]))
            .await
            .expect("upgrades");
        assert_eq!(ok.log(), vec!["apply b", "delete a"]);
        assert_eq!(
            statuses(&storage).await,
            vec![
                (1, "superseded".into(), "Install complete".into()),
                (
                    2,
                    "failed".into(),
                    "Upgrade \"app\" failed: admission denied".into()
                ),
                (3, "deployed".into(), "Upgrade complete".into())
            ]
        );
    });
}

#[test]
fn cleanup_on_fail_deletes_only_what_the_failed_upgrade_created() {
    block(async {
        let (storage, c) = installed(&[cm("a")]).await;
        let failing = FakeCluster {
            wait_error: Some("timeout waiting for: [ConfigMap/ns/new-b]".into()),
            ..FakeCluster::default()
        };
        let mut req = upgrade_req(&c, &[cm("a"), cm("new-b")]);
        req.common.wait = true;
        req.common.cleanup_on_fail = true;
        upgrade(&storage, &failing, req)
            .await
            .expect_err("wait fails");
        assert_eq!(
            failing.log(),
            vec!["apply a,new-b", "wait a,new-b", "delete new-b"]
        );
        let last = storage.last("app").await.expect("last").expect("stored");
        assert_eq!(last.status(), Status::Failed);
    });
}

#[test]
fn a_pending_release_refuses_an_upgrade_with_helms_message() {
    block(async {
        let storage = Storage::new(MemoryStore::default());
        let mut r = Release {
            name: "app".into(),
            namespace: "ns".into(),
            version: 1,
            ..Release::default()
        };
        r.set_status(Status::PendingInstall, "Initial install underway");
        storage.create(&r).await.expect("stored");
        let c = chart();
        let err = upgrade(
            &storage,
            &FakeCluster::default(),
            upgrade_req(&c, &[cm("a")]),
        )
        .await
        .expect_err("pending");
        assert_eq!(
            err.to_string(),
            "another operation (install/upgrade/rollback) is in progress"
        );
    });
}

#[test]
fn a_rollback_copies_the_target_revision_and_supersedes_the_deployed_one() {
    block(async {
        let storage = Storage::new(MemoryStore::default());
        let cluster = FakeCluster::default();
        let c = chart();
        install(&storage, &cluster, install_req(&c, &[cm("a")]))
            .await
            .expect("installs");
        upgrade(&storage, &cluster, upgrade_req(&c, &[cm("b")]))
            .await
            .expect("upgrades");
        cluster.clear();
        let rel = rollback(
            &storage,
            &cluster,
            Rollback {
                name: "app".into(),
                ..Rollback::default()
            },
        )
        .await
        .expect("rolls back");
        assert_eq!(rel.version, 3);
        assert_eq!(rel.manifest, rendered(&[cm("a")]).manifest);
        assert_eq!(cluster.log(), vec!["apply a", "delete b"]);
        assert_eq!(
            statuses(&storage).await,
            vec![
                (1, "superseded".into(), "Install complete".into()),
                (2, "superseded".into(), "Upgrade complete".into()),
                (3, "deployed".into(), "Rollback to 1".into())
            ]
        );
        let err = rollback(
            &storage,
            &cluster,
            Rollback {
                name: "app".into(),
                version: 9,
                ..Rollback::default()
            },
        )
        .await
        .expect_err("no such revision");
        assert_eq!(err.to_string(), "release has no 9 version");
    });
}

#[test]
fn uninstall_deletes_in_uninstall_order_keeps_kept_objects_and_purges_history() {
    block(async {
        let storage = Storage::new(MemoryStore::default());
        let cluster = FakeCluster::default();
        let c = chart();
        let kept = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: keepme\n  annotations:\n    helm.sh/resource-policy: keep\n".to_string();
        let svc = "apiVersion: v1\nkind: Service\nmetadata:\n  name: svc\n".to_string();
        let docs = vec![
            cm("a"),
            kept,
            svc,
            hook("cleanup", "pre-delete", 0, "hook-succeeded"),
        ];
        install(&storage, &cluster, install_req(&c, &docs))
            .await
            .expect("installs");
        cluster.clear();
        let out = uninstall(
            &storage,
            &cluster,
            Uninstall {
                name: "app".into(),
                keep_history: true,
                ..Uninstall::default()
            },
        )
        .await
        .expect("uninstalls");
        assert_eq!(
            cluster.log(),
            vec!["create-hook cleanup", "delete-hook cleanup", "delete svc,a"]
        );
        assert_eq!(out.kept.len(), 1);
        assert_eq!(
            statuses(&storage).await,
            vec![(1, "uninstalled".into(), "Uninstallation complete".into())]
        );
        let deleted = out.release.info.clone().unwrap_or_default().deleted;
        assert_ne!(deleted, record::ZERO_TIME);
        uninstall(
            &storage,
            &cluster,
            Uninstall {
                name: "app".into(),
                ..Uninstall::default()
            },
        )
        .await
        .expect("purges");
        assert!(storage.history("app").await.expect("history").is_empty());
    });
}

#[test]
fn test_filters_run_only_the_included_hooks_minus_the_excluded_and_keep_the_others() {
    block(async {
        let docs = vec![
            cm("cfg"),
            hook("t-a", "test", 0, ""),
            hook("t-b", "test", 1, ""),
            hook("t-c", "test", 2, ""),
        ];
        let (storage, _) = installed(&docs).await;
        let cluster = FakeCluster::default();
        let filters = TestFilters {
            include: vec!["t-a".into(), "t-b".into()],
            exclude: vec!["t-b".into()],
        };
        let rel =
            test_release_filtered(&storage, &cluster, "app", Duration::from_secs(5), &filters)
                .await
                .expect("tests pass");
        assert_eq!(cluster.log(), vec!["delete-hook t-a", "create-hook t-a"]);
        let phases: Vec<(&str, &str)> = rel
            .hooks
            .iter()
            .map(|h| (h.name.as_str(), h.last_run.phase.as_str()))
            .collect();
        assert_eq!(phases, vec![("t-b", ""), ("t-c", ""), ("t-a", "Succeeded")]);
        let stored = storage.last("app").await.expect("read").expect("stored");
        assert_eq!(stored.hooks.len(), 3);

        cluster.clear();
        let excluded = TestFilters {
            include: vec![],
            exclude: vec!["t-a".into()],
        };
        test_release_filtered(&storage, &cluster, "app", Duration::from_secs(5), &excluded)
            .await
            .expect("tests pass");
        assert_eq!(
            cluster.log(),
            vec![
                "delete-hook t-b",
                "create-hook t-b",
                "delete-hook t-c",
                "create-hook t-c"
            ]
        );
    });
}
