//! End to end with both controllers in-process: a git repository on a loopback git server,
//! `create source git` and `create kustomization` from flux's flags, a new commit picked up by
//! `reconcile kustomization --with-source`, and `get all` showing both Ready.

#[path = "../../kustomize-controller/tests/common/mod.rs"]
mod kc;
// Its re-exports serve source-controller's own tests, not this one.
mod commands_common;
#[allow(unused_imports)]
#[path = "../../source-controller/tests/common/mod.rs"]
mod sc;

use clap::Parser;
use commands_common::capture;
use driftless_cli::commands::create::{CreateArgs, create};
use driftless_cli::commands::get::{GetArgs, GetWhat, get};
use driftless_cli::commands::reconcile::{ReconcileArgs, reconcile};
use driftless_cli::commands::target::{Names, Target};
use driftless_runtime::flags::GoDuration;
use k8s_openapi::api::core::v1::ConfigMap;
use testkit::git_server::{GitAuth, GitServer};

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: CreateArgs,
}

fn create_args(line: &str) -> CreateArgs {
    let mut args = Cli::try_parse_from(
        std::iter::once("create".to_owned()).chain(line.split_whitespace().map(str::to_owned)),
    )
    .expect("parses")
    .args;
    args.kube.timeout = GoDuration(kc::WAIT);
    args
}

fn config_map(value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  value: {value}\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repository_is_created_synced_and_reconciled_with_its_source_from_the_cli() {
    let cluster = testkit::cluster().await.expect("cluster");
    kc::install_crds(&cluster.client).await.expect("crds");
    let ns = testkit::TestNamespace::create(&cluster, "cli-e2e")
        .await
        .expect("ns");
    let shard = ns.name().to_owned();
    let git = GitServer::start(GitAuth::None).await.expect("git server");
    let repo = git.create_repo("fleet").expect("repo");
    let first = repo
        .commit_files("main", &[("apps/app.yaml", &config_map("one"))], "one")
        .expect("commit");
    let sources = sc::RunningController::start(&cluster, &shard)
        .await
        .expect("source-controller");
    let appliers = kc::RunningController::start(&cluster, &shard, &[])
        .await
        .expect("kustomize-controller");
    let client = cluster.client.clone();
    let label = format!("--label={}={shard}", kc::SHARD_LABEL);

    let source = create_args(&format!(
        "source git fleet --url={} --branch=main {label} -n {shard}",
        git.url("fleet")
    ));
    let run = capture(async |p| create(&client, &source, p).await).await;
    let (err, result) = (run.err, run.result);
    result.expect("create source git");
    assert_eq!(
        err,
        format!(
            "✚ generating GitRepository source\n► applying GitRepository source\n✔ GitRepository source created\n\
             ◎ waiting for GitRepository source reconciliation\n✔ GitRepository source reconciliation completed\n\
             ✔ fetched revision: main@sha1:{first}\n"
        )
    );

    let ks = create_args(&format!(
        "kustomization apps --source=fleet --path=./apps --prune --target-namespace={shard} {label} -n {shard}"
    ));
    let run = capture(async |p| create(&client, &ks, p).await).await;
    let (err, result) = (run.err, run.result);
    result.expect("create kustomization");
    assert!(
        err.ends_with(&format!("✔ applied revision main@sha1:{first}\n")),
        "{err}"
    );

    // A new commit, then reconcile with its source: the source fetches it first.
    let second = repo
        .commit_files("main", &[("apps/app.yaml", &config_map("two"))], "two")
        .expect("commit");
    let mut kube = driftless_cli::commands::cluster::KubeArgs::new(&shard);
    kube.timeout = GoDuration(kc::WAIT);
    let args = ReconcileArgs {
        kube,
        with_source: true,
        target: Target::Kustomization(Names {
            names: vec!["apps".into()],
        }),
    };
    let run = capture(async |p| reconcile(&client, &args, p).await).await;
    let (err, result) = (run.err, run.result);
    result.expect("reconcile --with-source");
    assert_eq!(
        err,
        format!(
            "► annotating GitRepository fleet in {shard} namespace\n✔ GitRepository annotated\n\
             ◎ waiting for GitRepository reconciliation\n✔ fetched revision main@sha1:{second}\n\
             ► annotating Kustomization apps in {shard} namespace\n✔ Kustomization annotated\n\
             ◎ waiting for Kustomization reconciliation\n✔ applied revision main@sha1:{second}\n"
        )
    );
    let config_maps: kube::Api<ConfigMap> = kube::Api::namespaced(client.clone(), &shard);
    let app = config_maps.get("app").await.expect("applied");
    assert_eq!(app.data.expect("data")["value"], "two");

    let get_args = GetArgs {
        kube: driftless_cli::commands::cluster::KubeArgs::new(&shard),
        all_namespaces: false,
        no_header: true,
        watch: false,
        label_selector: None,
        status_selector: None,
        what: GetWhat::All,
    };
    let run = capture(async |p| get(&client, &get_args, p).await).await;
    let (out, result) = (run.out, run.result);
    result.expect("get all");
    let short = &second[..8];
    assert!(
        out.contains(&format!(
            "gitrepository/fleet\tmain@sha1:{short}\tFalse\tTrue\tstored artifact for revision 'main@sha1:{short}'\t\n\n"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("kustomization/apps\tmain@sha1:{short}\tFalse\tTrue\tApplied revision: main@sha1:{short}\t\n\n")),
        "{out}"
    );

    // Finalizers need both controllers: delete while they run.
    let kss: kube::Api<driftless_api::kustomize::Kustomization> =
        kube::Api::namespaced(client.clone(), &shard);
    let _ = kss.delete("apps", &Default::default()).await;
    testkit::wait::until(kc::WAIT, "apps to be finalized", || async {
        match kss.get_opt("apps").await {
            Ok(None) => Ok(Some(())),
            Ok(Some(_)) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    })
    .await
    .expect("kustomization finalized");
    let repos: kube::Api<driftless_api::source::GitRepository> =
        kube::Api::namespaced(client.clone(), &shard);
    let _ = repos.delete("fleet", &Default::default()).await;
    sc::wait_all_gone(&repos).await.expect("source finalized");
    appliers.stop().await.expect("kustomize-controller stops");
    sources.stop().await.expect("source-controller stops");
}
