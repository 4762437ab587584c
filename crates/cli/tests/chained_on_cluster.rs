//! The CLI as one user session, each command parsed from the line a user would type and
//! its output asserted: install -> check -> bootstrap into a loopback Git server -> the
//! cluster reconciles its own flux-system Kustomization -> create source + kustomization ->
//! get / reconcile --with-source / suspend / resume / tree / trace / diff / events ->
//! delete -> uninstall. Source- and kustomize-controller run in-process on the test's shard.

mod commands_common;
mod common;
#[path = "../../kustomize-controller/tests/common/mod.rs"]
mod kc;
#[allow(unused_imports)]
#[path = "../../source-controller/tests/common/mod.rs"]
mod sc;

use clap::Parser;
use commands_common::{Run, capture};
use driftless_cli::cli::{Cli, Command};
use driftless_cli::commands::bootstrap::SYNC_NAME;
use driftless_cli::commands::cluster::ClusterError;
use driftless_cli::commands::{self, kinds};
use driftless_cli::manifests::Install;
use driftless_runtime::flags::GoDuration;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;
use testkit::git_server::{GitAuth, GitServer};

/// Runs one command line (without the leading `driftless`) against `client`.
async fn driftless(client: &kube::Client, line: &str) -> Run {
    let argv = std::iter::once("driftless").chain(line.split_whitespace());
    let command = Cli::try_parse_from(argv)
        .map_err(|e| format!("`{line}` does not parse: {e}"))
        .expect("a command line of this session")
        .command;
    let wait = GoDuration(kc::WAIT);
    capture(async |p| match command {
        Command::Install(mut a) => {
            a.kube.timeout = wait;
            commands::install::install(client, &a, p).await
        }
        Command::Check(a) => commands::check::check(client, &a, p).await,
        Command::Bootstrap(mut a) => {
            a.kube.timeout = wait;
            commands::bootstrap::bootstrap(client, &a, p).await
        }
        Command::Create(mut a) => {
            a.kube.timeout = wait;
            commands::create::create(client, &a, p).await
        }
        Command::Get(a) => commands::get::get(client, &a, p).await,
        Command::Reconcile(mut a) => {
            a.kube.timeout = wait;
            commands::reconcile::reconcile(client, &a, p).await
        }
        Command::Suspend(a) => commands::suspend::set_suspended(client, &a, true, p).await,
        Command::Resume(mut a) => {
            a.kube.timeout = wait;
            commands::suspend::set_suspended(client, &a, false, p).await
        }
        Command::Tree(a) => commands::tree::tree(client, &a, p).await,
        Command::Trace(a) => commands::trace::trace(client, &a, p).await,
        Command::Diff(a) => commands::diff::diff(client, &a, p).await,
        Command::Events(a) => commands::events::events(client, &a, p).await,
        Command::Delete(a) => commands::delete::delete(client, &a, &mut std::io::empty(), p).await,
        Command::Uninstall(a) => commands::uninstall::uninstall(client, &a, p).await,
        other => Err(ClusterError::Invalid(format!("not part of this session: {other:?}")).into()),
    })
    .await
}

/// Asserts success and returns (stdout, stderr).
fn ok(run: Run, what: &str) -> (String, String) {
    let (out, err) = (run.out, run.err);
    run.result
        .map_err(|e| format!("{what} failed: {e}\nstdout:\n{out}\nstderr:\n{err}"))
        .expect("the command succeeds");
    (out, err)
}

fn config_map(name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: {value}\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_session_from_install_to_uninstall_prints_what_flux_prints() {
    let cluster = testkit::cluster().await.expect("cluster");
    kc::install_crds(&cluster.client).await.expect("crds");
    let ns_guard = testkit::TestNamespace::create(&cluster, "cli-chain")
        .await
        .expect("ns");
    let ns = ns_guard.name().to_owned();
    let client = cluster.client.clone();
    let git = GitServer::start(GitAuth::Basic {
        username: "git".into(),
        password: "chain-pw-7e1f".into(),
    })
    .await
    .expect("git server");
    let repo = git.create_repo("fleet").expect("repo");
    repo.commit_files(
        "main",
        &[
            (
                "clusters/test/apps/app.yaml",
                &format!(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: {ns}\n\
                     data:\n  value: one\n"
                ),
            ),
            ("extra/cm.yaml", &config_map("extra-app", "one")),
        ],
        "fleet",
    )
    .expect("commit");
    let sources = sc::RunningController::start(&cluster, &ns)
        .await
        .expect("source-controller");
    let appliers = kc::RunningController::start(&cluster, &ns, &[])
        .await
        .expect("kustomize-controller");
    // The in-process controllers see only objects with the shard label; bootstrap's sync
    // objects get it as soon as they exist (the CLI-created ones get it from --label).
    let labeller = {
        let client = client.clone();
        let ns = ns.clone();
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
    };
    let label = format!("--label={}={ns}", kc::SHARD_LABEL);

    // install, then check.
    let (_, err) = ok(
        driftless(&client, &format!("install -n {ns}")).await,
        "install",
    );
    assert!(
        err.starts_with(&format!(
            "✚ generating manifests\n✔ manifests build completed\n► installing components in {ns} namespace\n"
        )),
        "{err}"
    );
    assert!(err.ends_with("✔ install finished\n"), "{err}");
    let (_, err) = ok(driftless(&client, &format!("check -n {ns}")).await, "check");
    assert!(err.starts_with("► checking prerequisites\n"), "{err}");
    assert!(err.contains("► checking controllers\n"), "{err}");
    assert!(err.ends_with("✔ all checks passed\n"), "{err}");

    // bootstrap: the components and sync manifests are committed, and the cluster follows.
    let (_, err) = ok(
        driftless(
            &client,
            &format!(
                "bootstrap git --url={} --branch=main --path=clusters/test --password=chain-pw-7e1f \
                 --allow-insecure-http --author-email=flux@example.com -n {ns}",
                git.url("fleet")
            ),
        )
        .await,
        "bootstrap",
    );
    assert!(
        err.contains("✔ committed sync manifests to \"main\""),
        "{err}"
    );
    assert!(
        err.contains("✔ Kustomization reconciled successfully"),
        "{err}"
    );
    assert!(
        !err.contains("chain-pw-7e1f"),
        "the password leaked:\n{err}"
    );
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    assert!(config_maps.get_opt("app").await.expect("read").is_some());

    // create secret git + source git + kustomization, with flux's progress lines.
    let url = git.url("fleet");
    let (_, err) = ok(
        driftless(
            &client,
            &format!(
                "create secret git extra-auth --url={url} --username=git --password=chain-pw-7e1f -n {ns}"
            ),
        )
        .await,
        "create secret git",
    );
    assert!(
        !err.contains("chain-pw-7e1f"),
        "the password leaked:\n{err}"
    );
    let (_, err) = ok(
        driftless(
            &client,
            &format!("create source git extra --url={url} --branch=main --secret-ref=extra-auth {label} -n {ns}"),
        )
        .await,
        "create source git",
    );
    assert!(
        err.starts_with("✚ generating GitRepository source\n"),
        "{err}"
    );
    assert!(err.contains("✔ fetched revision: main@sha1:"), "{err}");
    let (_, err) = ok(
        driftless(
            &client,
            &format!(
                "create kustomization extra --source=extra --path=./extra --prune \
                 --target-namespace={ns} {label} -n {ns}"
            ),
        )
        .await,
        "create kustomization",
    );
    assert!(err.contains("✔ applied revision main@sha1:"), "{err}");
    assert_eq!(
        config_maps
            .get("extra-app")
            .await
            .expect("applied")
            .data
            .expect("data")["value"],
        "one"
    );

    // get: both sources and both Kustomizations, Ready.
    let (out, _) = ok(
        driftless(&client, &format!("get sources git -n {ns}")).await,
        "get sources git",
    );
    assert!(out.starts_with("NAME"), "{out}");
    for name in ["extra", "flux-system"] {
        assert!(out.contains(&format!("\n{name}")), "{name} in\n{out}");
    }
    // A new commit; reconcile --with-source fetches it before applying.
    let second = repo
        .commit_files(
            "main",
            &[("extra/cm.yaml", &config_map("extra-app", "two"))],
            "two",
        )
        .expect("commit");
    let (_, err) = ok(
        driftless(
            &client,
            &format!("reconcile kustomization extra --with-source -n {ns}"),
        )
        .await,
        "reconcile --with-source",
    );
    assert!(
        err.ends_with(&format!("✔ applied revision main@sha1:{second}\n")),
        "{err}"
    );
    let (out, _) = ok(
        driftless(&client, &format!("get kustomizations -n {ns} --no-header")).await,
        "get ks",
    );
    assert!(
        out.starts_with(&format!(
            "extra      \tmain@sha1:{short}\tFalse\tTrue\tApplied revision: main@sha1:{short}\t\n",
            short = &second[..8]
        )),
        "{out}"
    );

    // suspend, resume.
    let (_, err) = ok(
        driftless(&client, &format!("suspend kustomization extra -n {ns}")).await,
        "suspend",
    );
    assert_eq!(
        err,
        format!("► suspending kustomization extra in {ns} namespace\n✔ kustomization suspended\n")
    );
    let (_, err) = ok(
        driftless(&client, &format!("resume kustomization extra -n {ns}")).await,
        "resume",
    );
    assert!(
        err.starts_with(&format!(
            "► resuming kustomization extra in {ns} namespace\n✔ kustomization resumed\n"
        )),
        "{err}"
    );
    assert!(
        err.ends_with(&format!("✔ applied revision main@sha1:{second}\n")),
        "{err}"
    );

    // tree of the cluster's own Kustomization: itself left out, its GitRepository listed.
    let (out, _) = ok(
        driftless(
            &client,
            &format!("tree kustomization {SYNC_NAME} --compact -n {ns}"),
        )
        .await,
        "tree",
    );
    assert_eq!(
        out,
        format!("Kustomization/{ns}/{SYNC_NAME}\n└── GitRepository/{ns}/{SYNC_NAME}\n\n")
    );

    // trace: the ConfigMap comes from extra, fed by the extra source.
    let (out, _) = ok(
        driftless(&client, &format!("trace configmap extra-app -n {ns}")).await,
        "trace",
    );
    assert!(out.contains("Kustomization:   extra\n"), "{out}");
    assert!(
        out.contains(&format!("Revision:        main@sha1:{second}\n")),
        "{out}"
    );
    assert!(out.contains("GitRepository:   extra\n"), "{out}");

    // diff against a local change: reported, and a non-zero exit.
    let local = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        local.path().join("cm.yaml"),
        config_map("extra-app", "three"),
    )
    .expect("write");
    let run = driftless(
        &client,
        &format!(
            "diff kustomization extra --path={} -n {ns}",
            local.path().display()
        ),
    )
    .await;
    assert!(run.result.is_err(), "a drift exits non-zero:\n{}", run.out);
    assert!(
        run.out
            .contains(&format!("► ConfigMap/{ns}/extra-app drifted\n")),
        "{}",
        run.out
    );

    // events of the Kustomization.
    let (out, _) = ok(
        driftless(
            &client,
            &format!("events --for Kustomization/extra -n {ns}"),
        )
        .await,
        "events",
    );
    assert!(out.starts_with("LAST SEEN"), "{out}");
    assert!(out.contains("\tKustomization/extra\t"), "{out}");

    // delete what the session created (the controllers run its finalizers).
    let (_, err) = ok(
        driftless(
            &client,
            &format!("delete kustomization extra --silent -n {ns}"),
        )
        .await,
        "delete ks",
    );
    assert_eq!(
        err,
        format!("► deleting kustomization extra in {ns} namespace\n✔ kustomization deleted\n")
    );
    ok(
        driftless(
            &client,
            &format!("delete source git extra --silent -n {ns}"),
        )
        .await,
        "delete source",
    );

    // uninstall: flux-system is suspended first so its deletion prunes nothing (it owns the
    // shared CRDs); the controllers go, the user's objects and the CRDs stay.
    labeller.abort();
    ok(
        driftless(
            &client,
            &format!("suspend kustomization {SYNC_NAME} -n {ns}"),
        )
        .await,
        "suspend flux-system",
    );
    ok(
        driftless(
            &client,
            &format!("delete kustomization {SYNC_NAME} --silent -n {ns}"),
        )
        .await,
        "delete flux-system",
    );
    let (_, err) = ok(
        driftless(
            &client,
            &format!("uninstall --keep-namespace --silent -n {ns}"),
        )
        .await,
        "uninstall",
    );
    assert_eq!(
        err,
        format!("► deleting components in {ns} namespace\n✔ uninstall finished\n")
    );
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let left = deployments
        .list(&ListParams::default().labels("app.kubernetes.io/part-of=flux"))
        .await
        .expect("list");
    assert!(
        left.items
            .iter()
            .all(|d| d.metadata.deletion_timestamp.is_some()),
        "controllers left: {:?}",
        left.items
            .iter()
            .map(|d| &d.metadata.name)
            .collect::<Vec<_>>()
    );
    assert!(config_maps.get_opt("app").await.expect("read").is_some());
    assert!(kinds::KUSTOMIZATION.is_served(&client).await);

    let install = Install {
        namespace: ns.clone(),
        ..Install::default()
    };
    common::delete_cluster_rbac(&cluster, &install).await;
    appliers.stop().await.expect("kustomize-controller stops");
    sources.stop().await.expect("source-controller stops");
}
