//! Our release storage and actions against the local control plane, with the real `helm`
//! binary (pinned in crates/testkit/tools.toml) as the judge: it lists, shows the history,
//! prints the manifest and values of, and rolls back releases we made, and we read back what
//! it wrote, including a release it installed itself.

use driftless_helm::Values;
use driftless_helm::release::{self, Common, KubeCluster, KubeSecrets, Status, Storage, Uninstall};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use serde_json::json;

#[path = "release/common.rs"]
mod common;
use common::*;

#[tokio::test]
async fn helm_lists_shows_and_rolls_back_our_releases_and_we_read_its_rollback() {
    let cluster = testkit::cluster().await.expect("cluster");
    let ns = testkit::TestNamespace::create(&cluster, "helm-release")
        .await
        .expect("namespace");
    let ns = ns.name().to_string();
    let helm = Helm::new(cluster.plane.kubeconfig_path());
    let dir = tempfile::tempdir().expect("tempdir");
    let chart = driftless_helm::load(&write_chart(dir.path(), true)).expect("loads");
    let storage = Storage::new(KubeSecrets::new(cluster.client.clone(), &ns));
    let kube = KubeCluster::new(cluster.client.clone());

    let v1 = values(json!({"greeting": "hello"}));
    let installed = release::install(
        &storage,
        &kube,
        install_req(
            "demo",
            &ns,
            &chart,
            &v1,
            Common {
                wait: true,
                ..common()
            },
        ),
    )
    .await
    .expect("installs");
    assert_eq!(installed.status(), Status::Deployed);
    let hook = &installed.hooks[0];
    assert_eq!(
        (hook.name.as_str(), hook.last_run.phase.as_str()),
        ("demo-hook", "Succeeded")
    );
    let jobs: Api<Job> = Api::namespaced(cluster.client.clone(), &ns);
    assert!(
        jobs.get_opt("demo-hook").await.expect("get").is_some(),
        "before-hook-creation keeps the hook"
    );

    let list = helm.json(&["list", "-n", &ns, "-o", "json"]);
    assert_eq!(list[0]["name"], "demo");
    assert_eq!(list[0]["revision"], "1");
    assert_eq!(list[0]["status"], "deployed");
    assert_eq!(list[0]["chart"], "demo-0.1.0");
    assert_eq!(list[0]["app_version"], "1.16.0");

    let v2 = values(json!({"greeting": "hi"}));
    release::upgrade(
        &storage,
        &kube,
        upgrade_req("demo", &ns, &chart, &v2, common()),
    )
    .await
    .expect("upgrades");
    assert_eq!(greeting(&cluster.client, &ns, "demo-cfg").await, "hi");

    let history = helm.json(&["history", "demo", "-n", &ns, "-o", "json"]);
    let rows: Vec<(i64, String, String)> = history
        .as_array()
        .expect("array")
        .iter()
        .map(|h| {
            (
                h["revision"].as_i64().unwrap_or_default(),
                h["status"].as_str().unwrap_or_default().to_string(),
                h["description"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (1, "superseded".into(), "Install complete".into()),
            (2, "deployed".into(), "Upgrade complete".into())
        ]
    );
    let ours = storage.last("demo").await.expect("last").expect("stored");
    let manifest = helm.run(&["get", "manifest", "demo", "-n", &ns]);
    assert_eq!(manifest.trim_end(), ours.manifest.trim_end());
    assert_eq!(
        helm.json(&["get", "values", "demo", "-n", &ns, "-o", "json"]),
        json!({"greeting": "hi"})
    );

    helm.run(&[
        "rollback",
        "demo",
        "1",
        "-n",
        &ns,
        "--wait",
        "--timeout",
        "60s",
    ]);
    assert_eq!(greeting(&cluster.client, &ns, "demo-cfg").await, "hello");
    let back: Vec<(u32, Status)> = storage
        .history("demo")
        .await
        .expect("history")
        .iter()
        .map(|r| (r.version, r.status()))
        .collect();
    assert_eq!(
        back,
        vec![
            (1, Status::Superseded),
            (2, Status::Superseded),
            (3, Status::Deployed)
        ]
    );
    let rolled = storage
        .deployed("demo")
        .await
        .expect("deployed")
        .expect("one");
    assert_eq!(
        rolled.info.clone().unwrap_or_default().description,
        "Rollback to 1"
    );
    assert_eq!(rolled.config, Some(v1));
    assert_eq!(rolled.manifest, installed.manifest);

    // Our rollback, on top of helm's, as helm sees it.
    release::rollback(
        &storage,
        &kube,
        release::Rollback {
            name: "demo".into(),
            version: 2,
            common: common(),
        },
    )
    .await
    .expect("rolls back to 2");
    assert_eq!(greeting(&cluster.client, &ns, "demo-cfg").await, "hi");
    let history = helm.json(&["history", "demo", "-n", &ns, "-o", "json"]);
    let last = &history[3];
    assert_eq!(
        (&last["revision"], &last["status"], &last["description"]),
        (&json!(4), &json!("deployed"), &json!("Rollback to 2"))
    );
    assert_eq!(history[2]["status"], "superseded");
    assert_eq!(
        helm.json(&["get", "values", "demo", "-n", &ns, "-o", "json"]),
        json!({"greeting": "hi"})
    );

    release::uninstall(
        &storage,
        &kube,
        Uninstall {
            name: "demo".into(),
            keep_history: false,
            common: Common {
                wait: true,
                ..common()
            },
        },
    )
    .await
    .expect("uninstalls");
    assert_eq!(
        helm.json(&["list", "-n", &ns, "-a", "-o", "json"]),
        json!([])
    );
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), &ns);
    assert!(cms.get_opt("demo-cfg").await.expect("get").is_none());
}

#[tokio::test]
async fn a_release_helm_installed_is_decoded_and_upgraded_by_us() {
    let cluster = testkit::cluster().await.expect("cluster");
    let ns = testkit::TestNamespace::create(&cluster, "helm-adopt")
        .await
        .expect("namespace");
    let ns = ns.name().to_string();
    let helm = Helm::new(cluster.plane.kubeconfig_path());
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_chart(dir.path(), false);
    helm.run(&[
        "install",
        "theirs",
        path.to_str().expect("utf-8 path"),
        "-n",
        &ns,
        "--set",
        "greeting=hey",
        "--labels",
        "team=blue",
    ]);
    let storage = Storage::new(KubeSecrets::new(cluster.client.clone(), &ns));
    let theirs = storage.last("theirs").await.expect("last").expect("stored");
    assert_eq!((theirs.version, theirs.status()), (1, Status::Deployed));
    assert_eq!(theirs.chart_label(), "demo-0.1.0");
    assert_eq!(theirs.config, Some(values(json!({"greeting": "hey"}))));
    assert_eq!(theirs.labels.get("team").map(String::as_str), Some("blue"));
    assert!(theirs.manifest.contains("name: theirs-cfg"));
    let info = theirs.info.clone().unwrap_or_default();
    assert_eq!(info.description, "Install complete");

    let chart = driftless_helm::load(&path).expect("loads");
    let v = values(json!({"greeting": "ours"}));
    release::upgrade(
        &storage,
        &KubeCluster::new(cluster.client.clone()),
        upgrade_req("theirs", &ns, &chart, &v, common()),
    )
    .await
    .expect("upgrades a release helm made");
    assert_eq!(greeting(&cluster.client, &ns, "theirs-cfg").await, "ours");
    let history = helm.json(&["history", "theirs", "-n", &ns, "-o", "json"]);
    let statuses: Vec<&str> = history
        .as_array()
        .expect("array")
        .iter()
        .map(|h| h["status"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(statuses, vec!["superseded", "deployed"]);
    let list = helm.json(&["list", "-n", &ns, "-l", "team=blue", "-o", "json"]);
    assert_eq!(list[0]["revision"], "2", "custom labels carried over");
    let first = storage.get("theirs", 1).await.expect("revision 1");
    assert_eq!(
        first.info.clone().unwrap_or_default().first_deployed,
        info.first_deployed
    );

    // And back: helm upgrades on top of our revision.
    helm.run(&[
        "upgrade",
        "theirs",
        path.to_str().expect("utf-8 path"),
        "-n",
        &ns,
        "--set",
        "greeting=back",
    ]);
    assert_eq!(greeting(&cluster.client, &ns, "theirs-cfg").await, "back");
    let back: Vec<(u32, Status)> = storage
        .history("theirs")
        .await
        .expect("history")
        .iter()
        .map(|r| (r.version, r.status()))
        .collect();
    assert_eq!(
        back,
        vec![
            (1, Status::Superseded),
            (2, Status::Superseded),
            (3, Status::Deployed)
        ]
    );
}

#[tokio::test]
async fn a_release_stored_in_another_namespace_is_listed_there_with_its_own_namespace() {
    let cluster = testkit::cluster().await.expect("cluster");
    let target = testkit::TestNamespace::create(&cluster, "helm-target")
        .await
        .expect("namespace");
    let store = testkit::TestNamespace::create(&cluster, "helm-store")
        .await
        .expect("namespace");
    let (target, store) = (target.name().to_string(), store.name().to_string());
    let helm = Helm::new(cluster.plane.kubeconfig_path());
    let dir = tempfile::tempdir().expect("tempdir");
    let chart = driftless_helm::load(&write_chart(dir.path(), false)).expect("loads");
    let storage = Storage::new(KubeSecrets::new(cluster.client.clone(), &store));
    let v = Values::new();
    release::install(
        &storage,
        &KubeCluster::new(cluster.client.clone()),
        install_req("split", &target, &chart, &v, common()),
    )
    .await
    .expect("installs");
    assert_eq!(
        greeting(&cluster.client, &target, "split-cfg").await,
        "hello"
    );
    let list = helm.json(&["list", "-n", &store, "-o", "json"]);
    assert_eq!(list[0]["name"], "split");
    assert_eq!(list[0]["namespace"], target.as_str());
    assert_eq!(helm.json(&["list", "-n", &target, "-o", "json"]), json!([]));

    release::uninstall(
        &storage,
        &KubeCluster::new(cluster.client.clone()),
        Uninstall {
            name: "split".into(),
            keep_history: true,
            common: common(),
        },
    )
    .await
    .expect("uninstalls, keeping history");
    let list = helm.json(&["list", "-n", &store, "--uninstalled", "-o", "json"]);
    assert_eq!(list[0]["status"], "uninstalled");
    let history = helm.json(&["history", "split", "-n", &store, "-o", "json"]);
    assert_eq!(history[0]["description"], "Uninstallation complete");
}
