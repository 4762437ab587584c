//! GitRepository `spec.recurseSubmodules` end to end: the artifact holds the files of nested
//! submodules (relative URL, recorded commits) and no `.git`, the revision stays the parent's,
//! `observedRecurseSubmodules` is recorded, an unreachable submodule is Ready=False without an
//! artifact, and a submodule bumped in the parent produces a new artifact.

// The shared helpers re-export more than this test uses.
#[allow(unused_imports)]
mod common;

use common::*;
use driftless_api::source::GitRepository;
use kube::api::Api;
use serde_json::json;
use testkit::TestNamespace;
use testkit::git_server::{GitAuth, GitServer};

fn revision(repo: &GitRepository) -> Option<String> {
    repo.status
        .as_ref()
        .and_then(|s| s.artifact.as_ref())
        .map(|a| a.revision.clone())
}

#[tokio::test]
async fn submodules_are_in_the_artifact_and_a_bumped_submodule_makes_a_new_one()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crd(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-submodules").await?;
    let git = GitServer::start(GitAuth::None).await?;
    let deep = git.create_repo("deep")?;
    let deep_head = deep.commit_files("main", &[("deep.yaml", "deep: 1\n")], "deep")?;
    let lib = git.create_repo("lib")?;
    lib.commit_files("main", &[("lib.yaml", "lib: 1\n")], "lib")?;
    let lib_head = lib.commit_submodule("main", "vendor/deep", "../deep.git", &deep_head)?;
    let parent = git.create_repo("parent")?;
    parent.commit_files("main", &[("app.yaml", "app: 1\n")], "app")?;
    let parent_head = parent.commit_submodule("main", "libs/lib", "../lib.git", &lib_head)?;
    let broken = git.create_repo("broken")?;
    broken.commit_files("main", &[("app.yaml", "app: 1\n")], "app")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    broken.commit_submodule(
        "main",
        "libs/lib",
        &format!("http://127.0.0.1:{port}/lib.git"),
        &lib_head,
    )?;

    let controller = RunningController::start(&cluster, ns.name()).await?;
    let api: Api<GitRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    let with = json!({"ref": {"branch": "main"}, "recurseSubmodules": true});
    let without = json!({"ref": {"branch": "main"}});
    for (name, url, spec) in [
        ("with", git.url("parent"), with.clone()),
        ("without", git.url("parent"), without),
        ("broken", git.url("broken"), with),
    ] {
        create(&api, &git_repository(name, &controller.shard, &url, spec)?).await?;
    }

    let ready = wait_ready(&api, "with", "True", "Succeeded").await?;
    assert_eq!(revision(&ready), Some(format!("main@sha1:{parent_head}")));
    assert_eq!(
        ready
            .status
            .as_ref()
            .and_then(|s| s.observed_recurse_submodules),
        Some(true)
    );
    let dir = fetch_artifact(&ready).await?;
    let files = files_under(dir.path())?;
    assert_eq!(
        files,
        [
            "app.yaml",
            "libs/lib/lib.yaml",
            "libs/lib/vendor/deep/deep.yaml"
        ],
        "no .git or .gitmodules in the artifact"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("libs/lib/vendor/deep/deep.yaml"))?,
        "deep: 1\n"
    );

    let plain = wait_ready(&api, "without", "True", "Succeeded").await?;
    assert_eq!(
        plain
            .status
            .as_ref()
            .and_then(|s| s.observed_recurse_submodules),
        None
    );
    assert_eq!(
        files_under(fetch_artifact(&plain).await?.path())?,
        ["app.yaml"]
    );

    let failed = wait_failing(&api, "broken", "GitOperationFailed").await?;
    let message = &condition(&failed, "Ready").expect("Ready").message;
    assert!(
        message.contains("submodule 'libs/lib'") && message.contains(&port.to_string()),
        "{message}"
    );
    assert_eq!(
        revision(&failed),
        None,
        "no artifact for a broken submodule"
    );

    // A new submodule commit recorded in the parent: a new parent revision and artifact.
    let lib_v2 = lib.commit_files("main", &[("lib.yaml", "lib: 2\n")], "lib 2")?;
    let bumped = parent.commit_submodule("main", "libs/lib", "../lib.git", &lib_v2)?;
    request_reconcile(&api, "with", "bump").await?;
    let rebuilt = wait_for(&api, "with", "the bumped revision", |r| {
        revision(r) == Some(format!("main@sha1:{bumped}"))
    })
    .await?;
    let dir = fetch_artifact(&rebuilt).await?;
    assert_eq!(
        std::fs::read_to_string(dir.path().join("libs/lib/lib.yaml"))?,
        "lib: 2\n"
    );

    delete_all_repositories(&api).await?;
    controller.stop().await
}
