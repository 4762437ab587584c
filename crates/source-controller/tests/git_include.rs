//! GitRepository `spec.include` end to end: an include that does not exist yet makes the
//! includer wait, its artifact (`fromPath`) lands under `toPath` in the includer's artifact,
//! the revision is recorded in `includedArtifacts`, and a new commit in the included
//! repository rebuilds the includer without touching it.

// The shared helpers re-export more than this test uses.
#[allow(unused_imports)]
mod common;

use common::*;
use driftless_api::source::GitRepository;
use driftless_artifact::{FetchOptions, Fetcher};
use kube::api::{Api, DeleteParams};
use serde_json::json;
use testkit::TestNamespace;
use testkit::git_server::{GitAuth, GitServer};

/// The files of the artifact `repo` reports, fetched and digest-checked as consumers do.
async fn artifact_files(repo: &GitRepository) -> anyhow::Result<Vec<String>> {
    let artifact = repo
        .status
        .as_ref()
        .and_then(|s| s.artifact.as_ref())
        .ok_or_else(|| anyhow::anyhow!("no artifact"))?;
    let out = tempfile::tempdir()?;
    Fetcher::new(FetchOptions::default())?
        .fetch(&artifact.url, &artifact.digest, out.path())
        .await?;
    files_under(out.path())
}

fn included_revision(repo: &GitRepository) -> Option<String> {
    repo.status
        .as_ref()
        .and_then(|s| s.included_artifacts.as_ref())
        .and_then(|a| a.first())
        .map(|a| a.revision.clone())
}

#[tokio::test]
async fn an_include_is_awaited_copied_under_its_path_recorded_and_followed() -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crd(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-include").await?;
    let git = GitServer::start(GitAuth::None).await?;
    let lib = git.create_repo("lib")?;
    let first = lib.commit_files(
        "main",
        &[
            ("lib/a.yaml", "a: 1\n"),
            ("docs/readme.txt", "not included\n"),
        ],
        "lib",
    )?;
    let app = git.create_repo("app")?;
    app.commit_files("main", &[("app.yaml", "app: 1\n")], "app")?;
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let api: Api<GitRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    create(
        &api,
        &git_repository(
            "app",
            &controller.shard,
            &git.url("app"),
            json!({"ref": {"branch": "main"}, "include": [
                {"repository": {"name": "lib"}, "fromPath": "lib", "toPath": "vendor/lib"}
            ]}),
        )?,
    )
    .await?;

    // The included GitRepository does not exist yet: the includer waits on it.
    let waiting = wait_failing(&api, "app", "NotFound").await?;
    let unavailable = condition(&waiting, "IncludeUnavailable").expect("IncludeUnavailable");
    assert_eq!(unavailable.status, "True");
    assert!(
        unavailable
            .message
            .starts_with("could not get resource for include 'lib'"),
        "{}",
        unavailable.message
    );
    assert!(
        waiting
            .status
            .as_ref()
            .and_then(|s| s.artifact.as_ref())
            .is_none()
    );

    create(
        &api,
        &git_repository(
            "lib",
            &controller.shard,
            &git.url("lib"),
            json!({"ref": {"branch": "main"}}),
        )?,
    )
    .await?;
    let lib_ready = wait_ready(&api, "lib", "True", "Succeeded").await?;
    let lib_revision = format!("main@sha1:{first}");
    assert_eq!(
        lib_ready
            .status
            .as_ref()
            .and_then(|s| s.artifact.as_ref())
            .map(|a| a.revision.clone()),
        Some(lib_revision.clone())
    );
    let ready = wait_for(&api, "app", "app built with lib", |r| {
        included_revision(r).as_deref() == Some(lib_revision.as_str())
            && condition(r, "Ready").is_some_and(|c| c.status == "True")
    })
    .await?;
    assert!(condition(&ready, "IncludeUnavailable").is_none());
    assert_eq!(
        ready
            .status
            .as_ref()
            .and_then(|s| s.observed_include.clone()),
        ready.spec.include.clone()
    );
    assert_eq!(
        artifact_files(&ready).await?,
        ["app.yaml", "vendor/lib/a.yaml"]
    );
    let first_digest = ready
        .status
        .as_ref()
        .and_then(|s| s.artifact.as_ref())
        .map(|a| a.digest.clone());

    // A new commit in lib, picked up by lib, rebuilds app on its own (same app commit).
    let second = lib.commit_files("main", &[("lib/b.yaml", "b: 2\n")], "lib b")?;
    request_reconcile(&api, "lib", "lib-moved").await?;
    let second_revision = format!("main@sha1:{second}");
    let rebuilt = wait_for(&api, "app", "app rebuilt with the new lib", |r| {
        included_revision(r).as_deref() == Some(second_revision.as_str())
    })
    .await?;
    assert_eq!(
        artifact_files(&rebuilt).await?,
        ["app.yaml", "vendor/lib/a.yaml", "vendor/lib/b.yaml"]
    );
    assert_ne!(
        rebuilt
            .status
            .as_ref()
            .and_then(|s| s.artifact.as_ref())
            .map(|a| a.digest.clone()),
        first_digest
    );

    for name in ["app", "lib"] {
        api.delete(name, &DeleteParams::default()).await?;
    }
    wait_all_gone(&api).await?;
    controller.stop().await
}
