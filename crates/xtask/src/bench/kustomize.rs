//! `cargo xtask bench kustomize`: N Kustomizations from one GitRepository to Ready, run by
//! driftless (source-controller + kustomize-controller) and by Flux's own pair built from their
//! Go modules (the shared run in [`super::pair`]), plus the floor of plain server-side apply.

use driftless_api::kustomize::Kustomization;
use driftless_api::source::GitRepository;
use kube::api::ApiResource;
use testkit::git_server::{GitAuth, GitServer};

use super::pair::{self, Options, Workload};
use super::report::Block;
use super::workload;

const WORKLOAD: &str = "The workload of fluxcd/flux-benchmark's Kustomization benchmark, on a \
    loopback Git server instead of an OCI registry: ONE GitRepository (testkit's git \
    http-backend) holding a small app (a Deployment scaled to zero, a headless Service, a \
    ConfigMap, listed by a kustomization.yaml), and N Kustomizations in one namespace, each \
    applying it into that namespace with `postBuild.substitute` giving its objects their own \
    names (`interval: 60m`, `retryInterval: 2m`, `prune: true`, `wait: true`, `timeout: 1m`).";

pub(super) async fn run(opts: Options) -> anyhow::Result<()> {
    let git = GitServer::start(GitAuth::None).await?;
    let repo = git.create_repo("bench")?;
    let files = workload::app_files(opts.replicas);
    let borrowed: Vec<(&str, &str)> = files.iter().map(|(p, c)| (*p, c.as_str())).collect();
    repo.commit_files("master", &borrowed, "kustomize benchmark fixture")?;
    let url = git.url("bench");

    let bench = Workload {
        source: ApiResource::erase::<GitRepository>(&()),
        source_name: workload::SOURCE_NAME,
        source_object: Box::new(move |namespace| workload::git_repository(namespace, &url)),
        objects: ApiResource::erase::<Kustomization>(&()),
        object: Box::new(workload::kustomization),
        derived: Vec::new(),
        block: Block {
            name: "kustomize",
            heading: "kustomize-controller: N Kustomizations to Ready",
            workload: WORKLOAD,
            controller: "kustomize-controller",
            controller_flags: vec![
                "--no-remote-bases=true".into(),
                "--requeue-dependency=5s".into(),
            ],
            object_kind: "Kustomization",
            source_kind: "GitRepository",
            floor_lacks: "no Git, no build",
        },
    };
    pair::run(&opts, &bench).await
}
