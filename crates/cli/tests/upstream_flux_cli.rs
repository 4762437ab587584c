//! The upstream `flux` CLI (v2.9.5, built from its Go module by testkit) against a cluster that
//! driftless installed and reconciles: check, create, get all -A, reconcile --with-source,
//! suspend / resume, tree, events, delete. Each command's output is asserted, so a field, label or
//! status shape that Flux's own CLI reads differently from ours fails here.
//!
//! Source- and kustomize-controller run in-process on the test's shard; the Deployments
//! `driftless install` creates are what `flux check` inspects (kwok makes their pods Ready).

mod commands_common;
mod common;
#[path = "../../kustomize-controller/tests/common/mod.rs"]
mod kc;
#[allow(unused_imports)]
#[path = "../../source-controller/tests/common/mod.rs"]
mod sc;
mod upstream_common;

use clap::Parser;
use commands_common::capture;
use driftless_api::kustomize::Kustomization;
use driftless_cli::cli::{Cli, Command};
use driftless_cli::commands;
use driftless_cli::manifests::Install;
use driftless_runtime::flags::GoDuration;
use kube::api::Api;
use testkit::git_server::{GitAuth, GitServer};
use upstream_common::{Flux, has_event, row_with};

fn config_map(name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: {value}\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_upstream_flux_cli_checks_lists_reconciles_and_walks_a_driftless_cluster() {
    let cluster = testkit::cluster().await.expect("cluster");
    let flux = Flux::new(cluster.plane.kubeconfig_path());
    kc::install_crds(&cluster.client).await.expect("crds");
    let ns_guard = testkit::TestNamespace::create(&cluster, "flux-cli")
        .await
        .expect("ns");
    let ns = ns_guard.name().to_owned();
    let client = cluster.client.clone();

    let git = GitServer::start(GitAuth::Basic {
        username: "git".into(),
        password: "upstream-pw-3c9d".into(),
    })
    .await
    .expect("git server");
    let repo = git.create_repo("apps").expect("repo");
    let first = repo
        .commit_files("main", &[("app/cm.yaml", &config_map("app", "one"))], "one")
        .expect("commit");
    let sources = sc::RunningController::start(&cluster, &ns)
        .await
        .expect("source-controller");
    let appliers = kc::RunningController::start(&cluster, &ns, &[])
        .await
        .expect("kustomize-controller");

    // driftless installs its controllers; upstream `flux check` must accept the result.
    let install = {
        let argv = ["driftless", "install", "-n", &ns];
        let Command::Install(mut args) = Cli::try_parse_from(argv).expect("parses").command else {
            panic!("install parses as install");
        };
        args.kube.timeout = GoDuration(kc::WAIT);
        let run = capture(async |p| commands::install::install(&client, &args, p).await).await;
        run.result
            .map_err(|e| format!("{e}\n{}", run.err))
            .expect("driftless install");
        Install {
            namespace: ns.clone(),
            ..Install::default()
        }
    };
    let (_, err) = flux.ok(&format!("check -n {ns} --timeout=90s")).await;
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.first(), Some(&"► checking prerequisites"), "{err}");
    assert!(err.contains("✔ Kubernetes 1.37.2 >=1.33.0-0\n"), "{err}");
    assert!(err.contains("► checking version in cluster\n"), "{err}");
    assert!(err.contains("✔ distribution: flux-"), "{err}");
    assert!(err.contains("► checking controllers\n"), "{err}");
    for controller in [
        "source-controller",
        "kustomize-controller",
        "helm-controller",
    ] {
        assert!(
            err.contains(&format!("✔ {controller}: deployment ready\n")),
            "{controller} in\n{err}"
        );
    }
    assert!(
        err.contains(&format!("► {}\n", install.image())),
        "the image is listed:\n{err}"
    );
    assert!(err.contains("► checking crds\n"), "{err}");
    for crd in [
        "gitrepositories.source.toolkit.fluxcd.io/v1",
        "kustomizations.kustomize.toolkit.fluxcd.io/v1",
        "helmreleases.helm.toolkit.fluxcd.io/v2",
        "alerts.notification.toolkit.fluxcd.io/v1beta3",
    ] {
        assert!(err.contains(&format!("✔ {crd}\n")), "{crd} in\n{err}");
    }
    assert_eq!(lines.last(), Some(&"✔ all checks passed"), "{err}");

    // Upstream `flux create` waits for Ready with Flux's own readiness rules.
    let url = git.url("apps");
    let label = format!("--label={}={ns}", kc::SHARD_LABEL);
    let (_, err) = flux
        .ok(&format!(
            "create source git apps --url={url} --branch=main --username=git \
             --password=upstream-pw-3c9d {label} -n {ns} --timeout=90s"
        ))
        .await;
    assert!(
        err.contains(&format!("✔ fetched revision: main@sha1:{first}\n")),
        "{err}"
    );
    let (_, err) = flux
        .ok(&format!(
            "create kustomization apps --source=GitRepository/apps --path=./app --prune=true \
             --interval=10m --target-namespace={ns} {label} -n {ns} --timeout=90s"
        ))
        .await;
    assert!(
        err.contains(&format!("✔ applied revision main@sha1:{first}\n")),
        "{err}"
    );

    // A Kustomization that cannot apply: flux waits (kstatus InProgress while the controller
    // retries) until its timeout, and then lists it not Ready with the controller's message.
    let (success, _, err) = flux
        .run(&format!(
            "create kustomization broken --source=GitRepository/apps --path=./missing \
             --interval=10m {label} -n {ns} --timeout=10s"
        ))
        .await;
    assert!(
        !success,
        "a Kustomization without its path is not ready:\n{err}"
    );
    assert!(
        err.contains("◎ waiting for Kustomization reconciliation\n"),
        "{err}"
    );
    let (out, _) = flux.ok(&format!("get ks broken -n {ns} --no-header")).await;
    let row = row_with(&out, &["broken"]).unwrap_or_else(|| panic!("{out}"));
    assert_eq!(row[..4], ["broken", "", "False", "False"], "{out}");
    assert!(
        row[4].starts_with("kustomization path not found: "),
        "{out}"
    );
    flux.ok(&format!("delete ks broken --silent -n {ns}")).await;

    // get all -A: both objects, Ready, with their revisions (flux shortens the hash).
    let (out, _) = flux.ok("get all -A").await;
    let short = &first[..8];
    let source_row =
        row_with(&out, &[&ns, "gitrepository/apps"]).unwrap_or_else(|| panic!("{out}"));
    assert_eq!(
        source_row,
        [
            ns.as_str(),
            "gitrepository/apps",
            &format!("main@sha1:{short}"),
            "False",
            "True",
            &format!("stored artifact for revision 'main@sha1:{short}'"),
        ],
        "{out}"
    );
    let ks_row = row_with(&out, &[&ns, "kustomization/apps"]).unwrap_or_else(|| panic!("{out}"));
    assert_eq!(
        ks_row,
        [
            ns.as_str(),
            "kustomization/apps",
            &format!("main@sha1:{short}"),
            "False",
            "True",
            &format!("Applied revision: main@sha1:{short}"),
        ],
        "{out}"
    );

    // reconcile --with-source: the new commit is fetched and applied, and the request handled.
    let ks_api: Api<Kustomization> = Api::namespaced(client.clone(), &ns);
    let handled_before = ks_api
        .get("apps")
        .await
        .expect("ks")
        .status
        .and_then(|s| s.last_handled_reconcile_at);
    let second = repo
        .commit_files("main", &[("app/cm.yaml", &config_map("app", "two"))], "two")
        .expect("commit");
    let (_, err) = flux
        .ok(&format!(
            "reconcile ks apps --with-source -n {ns} --timeout=90s"
        ))
        .await;
    assert!(
        err.contains(&format!("✔ fetched revision main@sha1:{second}\n")),
        "{err}"
    );
    assert!(
        err.ends_with(&format!("✔ applied revision main@sha1:{second}\n")),
        "{err}"
    );
    let handled_after = ks_api
        .get("apps")
        .await
        .expect("ks")
        .status
        .and_then(|s| s.last_handled_reconcile_at);
    assert!(handled_after.is_some(), "lastHandledReconcileAt is set");
    assert_ne!(
        handled_after, handled_before,
        "lastHandledReconcileAt advanced"
    );

    // suspend, then resume (which waits for Ready again).
    let (_, err) = flux.ok(&format!("suspend ks apps -n {ns}")).await;
    assert_eq!(
        err,
        format!("► suspending kustomization apps in {ns} namespace\n✔ kustomization suspended\n")
    );
    let (out, _) = flux.ok(&format!("get ks apps -n {ns}")).await;
    let row = row_with(&out, &["apps"]).unwrap_or_else(|| panic!("{out}"));
    assert_eq!(row[2], "True", "SUSPENDED column:\n{out}");
    let (_, err) = flux
        .ok(&format!("resume ks apps -n {ns} --timeout=90s"))
        .await;
    assert!(
        err.starts_with(&format!(
            "► resuming kustomization apps in {ns} namespace\n"
        )),
        "{err}"
    );
    assert!(
        err.ends_with(&format!("✔ applied revision main@sha1:{second}\n")),
        "{err}"
    );

    // tree: the inventory of the Kustomization.
    let (out, _) = flux.ok(&format!("tree ks apps -n {ns}")).await;
    assert_eq!(
        out,
        format!("Kustomization/{ns}/apps\n└── ConfigMap/{ns}/app\n\n"),
        "{out}"
    );

    // events of the Kustomization: the controller's events, as flux lists them.
    let (out, _) = flux
        .ok(&format!("events --for Kustomization/apps -n {ns}"))
        .await;
    assert!(out.starts_with("LAST SEEN"), "{out}");
    // The source's events are listed with the Kustomization's (flux adds its sourceRef).
    for (reason, object, message) in [
        (
            "NewArtifact",
            "GitRepository/apps",
            "stored artifact for commit 'two'".to_owned(),
        ),
        (
            "Progressing",
            "Kustomization/apps",
            format!("ConfigMap/{ns}/app configured"),
        ),
        (
            "ReconciliationSucceeded",
            "Kustomization/apps",
            "next run in 10m0s".to_owned(),
        ),
    ] {
        assert!(
            has_event(&out, reason, object, &message),
            "{reason} {object} {message:?} in\n{out}"
        );
    }

    // trace: which Kustomization applied the ConfigMap, from which source and revision.
    let (out, _) = flux.ok(&format!("trace configmap app -n {ns}")).await;
    for line in [
        "Kustomization:   apps".to_owned(),
        format!("Revision:        main@sha1:{second}"),
        "GitRepository:   apps".to_owned(),
        format!("URL:             {url}"),
        format!("Message:         stored artifact for revision 'main@sha1:{second}'"),
    ] {
        assert!(out.lines().any(|l| l == line), "{line:?} in\n{out}");
    }

    // export: the object as the user wrote it, without status.
    let (out, _) = flux.ok(&format!("export ks apps -n {ns}")).await;
    assert!(out.contains("kind: Kustomization\n"), "{out}");
    assert!(out.contains("  path: ./app\n"), "{out}");
    assert!(out.contains(&format!("  targetNamespace: {ns}\n")), "{out}");
    assert!(!out.contains("status:"), "{out}");

    // version: every driftless Deployment runs one image, so flux (which keys controllers by
    // image name) reports a single `driftless` entry.
    let (out, _) = flux.ok(&format!("version -n {ns}")).await;
    assert_eq!(
        out,
        format!(
            "flux: v2.9.5\ndistribution: flux-{v}\ndriftless: {v}\n",
            v = install.version
        )
    );

    // delete with flux; the controllers run the finalizers before they stop.
    let (_, err) = flux.ok(&format!("delete ks apps --silent -n {ns}")).await;
    assert!(err.ends_with("✔ kustomization deleted\n"), "{err}");
    flux.ok(&format!("delete source git apps --silent -n {ns}"))
        .await;
    testkit::wait::until(kc::WAIT, "the Flux objects to be gone", || {
        let client = client.clone();
        let ns = ns.clone();
        async move {
            let ks: Api<Kustomization> = Api::namespaced(client.clone(), &ns);
            let repos: Api<driftless_api::source::GitRepository> = Api::namespaced(client, &ns);
            let left = ks
                .get_opt("apps")
                .await
                .map_err(|e| e.to_string())?
                .is_some()
                || repos
                    .get_opt("apps")
                    .await
                    .map_err(|e| e.to_string())?
                    .is_some();
            Ok((!left).then_some(()))
        }
    })
    .await
    .expect("deleted");
    common::delete_cluster_rbac(&cluster, &install).await;
    appliers.stop().await.expect("kustomize-controller stops");
    sources.stop().await.expect("source-controller stops");
}
