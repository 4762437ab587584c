//! `bootstrap git --url=ssh://… --private-key-file=…` end to end: a private sshd on loopback
//! serving a test git server's repository, source- and kustomize-controller in-process. The
//! manifests are pushed over SSH, the `flux-system` Secret gets `identity`, `identity.pub` and
//! the scanned `known_hosts`, and source-controller follows the repository over SSH with it.

mod commands_common;
mod common;
#[path = "../../kustomize-controller/tests/common/mod.rs"]
mod kc;
#[allow(unused_imports)]
#[path = "../../source-controller/tests/common/mod.rs"]
mod sc;

use clap::Parser;
use commands_common::capture;
use driftless_cli::commands::bootstrap::{BootstrapArgs, SYNC_NAME, bootstrap};
use driftless_cli::commands::kinds;
use driftless_cli::manifests::Install;
use driftless_runtime::flags::GoDuration;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;
use testkit::git_server::{GitAuth, GitServer};
use testkit::ssh_server::{SshServer, generate_key};

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: BootstrapArgs,
}

/// The controllers under test only see objects with the test's shard label; bootstrap's own
/// objects get it as soon as they exist.
fn label_sync_objects(client: kube::Client, ns: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let patch = json!({"metadata": {"labels": {kc::SHARD_LABEL: ns}}});
        loop {
            for kind in [kinds::GIT_REPOSITORY, kinds::KUSTOMIZATION] {
                let _ = kind
                    .api(&client, Some(&ns))
                    .patch(SYNC_NAME, &PatchParams::default(), &Patch::Merge(&patch))
                    .await;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn bootstrap_over_ssh_pushes_stores_the_key_and_known_hosts_and_the_cluster_follows() {
    let Some(ssh) = SshServer::start_or_skip().expect("sshd") else {
        return;
    };
    let cluster = testkit::cluster().await.expect("cluster");
    kc::install_crds(&cluster.client).await.expect("crds");
    let ns = testkit::TestNamespace::create(&cluster, "cli-boot-ssh")
        .await
        .expect("ns");
    let shard = ns.name().to_owned();
    let client = cluster.client.clone();
    let git = GitServer::start(GitAuth::None).await.expect("git server");
    let repo = git.create_repo("fleet").expect("repo");
    let app = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: {shard}\ndata:\n  value: one\n"
    );
    repo.commit_files("main", &[("clusters/test/apps/app.yaml", &app)], "app")
        .expect("commit");
    let sources = sc::RunningController::start(&cluster, &shard)
        .await
        .expect("source-controller");
    let appliers = kc::RunningController::start(&cluster, &shard, &[])
        .await
        .expect("kustomize-controller");
    let labeller = label_sync_objects(client.clone(), shard.clone());

    // An encrypted key: `--password` is its passphrase and lands in the Secret as `password`.
    let key = generate_key("ed25519", Some("boot-pw-51c2")).expect("key");
    ssh.authorize(&key.public).expect("authorize");
    let key_dir = tempfile::tempdir().expect("tempdir");
    let key_file = key_dir.path().join("id_ed25519");
    std::fs::write(&key_file, &key.private).expect("key file");
    let argv = format!(
        "bootstrap git --url={} --branch=main --path=clusters/test --password=boot-pw-51c2 \
         --private-key-file={} --author-email=flux@example.com -n {shard} --timeout=90s",
        ssh.url(&git.repo_path("fleet")),
        key_file.display()
    );
    let mut args = Cli::try_parse_from(argv.split_whitespace())
        .expect("parses")
        .args;
    args.kube.timeout = GoDuration(kc::WAIT);
    let run = capture(async |p| bootstrap(&client, &args, p).await).await;
    let (err, result) = (run.err, run.result);
    result.unwrap_or_else(|e| panic!("bootstrap failed: {e}\n{err}"));
    assert!(
        err.contains("✔ committed component manifests to \"main\""),
        "{err}"
    );
    assert!(
        err.contains("✔ committed sync manifests to \"main\""),
        "{err}"
    );
    assert!(
        err.contains("✔ Kustomization reconciled successfully"),
        "{err}"
    );
    assert!(!err.contains("boot-pw-51c2"), "the password leaked:\n{err}");
    assert!(!err.contains("PRIVATE KEY"), "the key leaked:\n{err}");
    let secret = Api::<Secret>::namespaced(client.clone(), &shard)
        .get(SYNC_NAME)
        .await
        .expect("flux-system Secret");
    let data = secret.data.expect("data");
    let text = |k: &str| String::from_utf8(data[k].0.clone()).expect("utf-8");
    assert_eq!(text("identity"), key.private);
    assert!(
        key.public.starts_with(text("identity.pub").trim()),
        "{}",
        text("identity.pub")
    );
    assert_eq!(text("known_hosts"), ssh.known_hosts());
    assert_eq!(text("password"), "boot-pw-51c2");

    // The commits are real, on the branch, with flux's messages and files.
    let log = git
        .git_in_repo("fleet", &["log", "--format=%an <%ae> %s", "main"])
        .expect("git log");
    assert!(
        log.starts_with("Flux <flux@example.com> Add Flux sync manifests\n"),
        "{log}"
    );
    assert!(log.contains("component manifests\n"), "{log}");
    let files = git
        .git_in_repo(
            "fleet",
            &[
                "ls-tree",
                "-r",
                "--name-only",
                "main",
                "clusters/test/flux-system",
            ],
        )
        .expect("ls-tree");
    assert_eq!(
        files,
        "clusters/test/flux-system/gotk-components.yaml\nclusters/test/flux-system/gotk-sync.yaml\nclusters/test/flux-system/kustomization.yaml\n"
    );
    // The cluster applied the path, the app included.
    let cm: Api<ConfigMap> = Api::namespaced(client.clone(), &shard);
    assert_eq!(
        cm.get("app").await.expect("app").data.expect("data")["value"],
        "one"
    );

    // Again: nothing new to commit, and the cluster is still in sync.
    let run = capture(async |p| bootstrap(&client, &args, p).await).await;
    let (err, result) = (run.err, run.result);
    result.unwrap_or_else(|e| panic!("second bootstrap failed: {e}\n{err}"));
    assert!(
        err.contains("✔ component manifests are up to date"),
        "{err}"
    );
    assert!(err.contains("✔ sync manifests are up to date"), "{err}");
    let log_again = git
        .git_in_repo("fleet", &["log", "--format=%an <%ae> %s", "main"])
        .expect("git log");
    assert_eq!(log, log_again);

    // Clean up without pruning: the Kustomization owns the shared CRDs, so it is suspended
    // before it goes (a suspended Kustomization is deleted without garbage collection).
    labeller.abort();
    let ks = kinds::KUSTOMIZATION.api(&client, Some(&shard));
    ks.patch(
        SYNC_NAME,
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"suspend": true}})),
    )
    .await
    .expect("suspend");
    ks.delete(SYNC_NAME, &DeleteParams::default())
        .await
        .expect("delete");
    testkit::wait::until(kc::WAIT, "flux-system Kustomization gone", || {
        let ks = ks.clone();
        async move {
            Ok(ks
                .get_opt(SYNC_NAME)
                .await
                .ok()
                .flatten()
                .is_none()
                .then_some(()))
        }
    })
    .await
    .expect("finalized");
    let install = Install {
        namespace: shard.clone(),
        ..Install::default()
    };
    common::delete_cluster_rbac(&cluster, &install).await;
    appliers.stop().await.expect("kustomize-controller stops");
    sources.stop().await.expect("source-controller stops");
}
