//! GitRepository reconciliation end to end: the controller in-process against the local control
//! plane and a loopback git server, as a user drives it (create, push, `flux reconcile`,
//! suspend, delete) and as consumers read it (`kubectl wait`, the artifact URL and digest).

mod common;

use std::collections::BTreeMap;

use common::*;
use driftless_api::source::GitRepository;
use driftless_artifact::{FetchOptions, Fetcher};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;
use testkit::TestNamespace;
use testkit::git_server::{GitAuth, GitServer};

#[tokio::test]
async fn a_gitrepository_gets_a_downloadable_artifact_follows_new_commits_and_cleans_up_on_deletion()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crd(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-artifact").await?;
    let git = GitServer::start(GitAuth::None).await?;
    let repo = git.create_repo("podinfo")?;
    let first = repo.commit_files(
        "master",
        &[
            ("deploy/app.yaml", "kind: ConfigMap\n"),
            ("docs/README.md", "ignored by spec.ignore\n"),
            (
                "logo.png",
                "default exclusions are replaced by spec.ignore\n",
            ),
        ],
        "Add podinfo manifests",
    )?;
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let api: Api<GitRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    let spec = json!({"ref": {"branch": "master"}, "ignore": "/docs\n"});
    create(
        &api,
        &git_repository("podinfo", &controller.shard, &git.url("podinfo"), spec)?,
    )
    .await?;

    let ready = wait_ready(&api, "podinfo", "True", "Succeeded").await?;
    let revision = format!("master@sha1:{first}");
    let ready_condition = condition(&ready, "Ready").expect("Ready is set");
    assert_eq!(
        ready_condition.message,
        format!("stored artifact for revision '{revision}'")
    );
    assert!(
        condition(&ready, "Reconciling").is_none(),
        "Reconciling is removed on success"
    );
    assert_eq!(
        condition(&ready, "ArtifactInStorage").map(|c| c.status.as_str()),
        Some("True")
    );
    assert!(
        condition(&ready, "SourceVerified").is_none(),
        "no verification configured"
    );
    let status = ready.status.clone().expect("status");
    assert_eq!(status.observed_ignore.as_deref(), Some("/docs\n"));
    let artifact = status.artifact.expect("artifact");
    assert_eq!(artifact.revision, revision);
    assert_eq!(
        artifact.path,
        format!("gitrepository/{}/podinfo/{first}.tar.gz", ns.name())
    );

    // kubectl wait reads the same condition.
    kubectl(
        &cluster,
        &[
            "wait",
            "--for=condition=Ready",
            "gitrepository/podinfo",
            "-n",
            ns.name(),
            "--timeout=30s",
        ],
    )?;

    // The URL serves exactly the bytes the digest and size describe.
    let (code, body) = http_get(&artifact.url).await?;
    assert_eq!(code, 200, "{}", artifact.url);
    assert_eq!(sha256(&body), artifact.digest);
    assert_eq!(artifact.size, Some(i64::try_from(body.len())?));
    // And consumers (kustomize-controller's fetch client) can verify and extract it.
    let out = tempfile::tempdir()?;
    Fetcher::new(FetchOptions::default())?
        .fetch(&artifact.url, &artifact.digest, out.path())
        .await?;
    assert_eq!(files_under(out.path())?, ["deploy/app.yaml", "logo.png"]);

    // A push plus `flux reconcile` yields the new revision and records the request.
    let second = repo.commit_files(
        "master",
        &[("deploy/app.yaml", "kind: Secret\n")],
        "Switch to a Secret",
    )?;
    request_reconcile(&api, "podinfo", "2026-01-01T00:00:00Z").await?;
    let second_revision = format!("master@sha1:{second}");
    let updated = wait_for(&api, "podinfo", "the second revision", |r| {
        r.status.as_ref().is_some_and(|s| {
            s.artifact
                .as_ref()
                .is_some_and(|a| a.revision == second_revision)
                && s.last_handled_reconcile_at.as_deref() == Some("2026-01-01T00:00:00Z")
        })
    })
    .await?;
    assert_eq!(
        condition(&updated, "Ready").map(|c| c.status.as_str()),
        Some("True")
    );
    let (new_artifact, _) = wait_event(
        &cluster.client,
        ns.name(),
        "NewArtifact event for the second commit",
        |e| {
            e.reason.as_deref() == Some("NewArtifact")
                && e.metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get("source.toolkit.fluxcd.io/revision"))
                    == Some(&second_revision)
        },
    )
    .await?;
    assert_eq!(
        new_artifact.message.as_deref(),
        Some("stored artifact for commit 'Switch to a Secret'")
    );
    assert_eq!(new_artifact.type_.as_deref(), Some("Normal"));

    // Deletion removes the stored artifacts and lets the object go.
    let dir = controller.object_dir(ns.name(), "podinfo");
    assert!(dir.join(format!("{second}.tar.gz")).is_file());
    api.delete("podinfo", &DeleteParams::default()).await?;
    testkit::wait::until(WAIT, "podinfo deleted", || {
        let api = api.clone();
        async move {
            match api.get_opt("podinfo").await.map_err(|e| e.to_string())? {
                None => Ok(Some(())),
                Some(r) => Err(format!("finalizers: {:?}", r.metadata.finalizers)),
            }
        }
    })
    .await
    .map_err(anyhow::Error::msg)?;
    assert!(
        !dir.exists(),
        "artifacts of a deleted GitRepository are removed"
    );
    controller.stop().await
}

#[tokio::test]
async fn a_missing_branch_is_git_operation_failed_and_the_controller_keeps_working()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crd(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-branch").await?;
    let git = GitServer::start(GitAuth::None).await?;
    let repo = git.create_repo("app")?;
    let commit = repo.commit_files("main", &[("app.yaml", "a: 1\n")], "initial")?;
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let api: Api<GitRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    let url = git.url("app");
    create(
        &api,
        &git_repository(
            "wrong",
            &controller.shard,
            &url,
            json!({"ref": {"branch": "nope"}}),
        )?,
    )
    .await?;
    create(
        &api,
        &git_repository(
            "verified",
            &controller.shard,
            &url,
            json!({"ref": {"branch": "main"}, "verify": {"secretRef": {"name": "keys"}}}),
        )?,
    )
    .await?;

    let failed = wait_failing(&api, "wrong", "GitOperationFailed").await?;
    let ready = condition(&failed, "Ready").expect("Ready");
    assert!(
        ready
            .message
            .starts_with("failed to checkout and determine revision: "),
        "{}",
        ready.message
    );
    assert!(ready.message.contains("nope"), "{}", ready.message);
    let fetch_failed = condition(&failed, "FetchFailed").expect("FetchFailed");
    assert_eq!(
        (fetch_failed.status.as_str(), fetch_failed.message.as_str()),
        ("True", ready.message.as_str())
    );
    assert_eq!(
        condition(&failed, "Reconciling").map(|c| c.reason.as_str()),
        Some("ProgressingWithRetry")
    );

    // Verification against a key Secret that does not exist: retried (the Secret may
    // appear), SourceVerified False, and no artifact of the unverified commit.
    let stalled = wait_failing(&api, "verified", "VerificationError").await?;
    let verified = condition(&stalled, "SourceVerified").expect("SourceVerified");
    assert_eq!(verified.status, "False");
    assert!(
        verified
            .message
            .starts_with("PGP public keys secret error: "),
        "{}",
        verified.message
    );
    assert!(
        stalled
            .status
            .as_ref()
            .and_then(|s| s.artifact.as_ref())
            .is_none()
    );

    // Fixing the branch recovers the object in the same controller.
    patch_spec(&api, "wrong", json!({"ref": {"branch": "main"}})).await?;
    let fixed = wait_ready(&api, "wrong", "True", "Succeeded").await?;
    assert!(condition(&fixed, "FetchFailed").is_none());
    assert_eq!(
        fixed.status.and_then(|s| s.artifact).map(|a| a.revision),
        Some(format!("main@sha1:{commit}"))
    );
    for name in ["wrong", "verified"] {
        api.delete(name, &DeleteParams::default()).await?;
    }
    wait_all_gone(&api).await?;
    controller.stop().await
}

#[tokio::test]
async fn wrong_credentials_are_authentication_failed_and_the_password_is_never_shown()
-> anyhow::Result<()> {
    const WRONG: &str = "wrong-pa55word-never-shown";
    let cluster = testkit::cluster().await?;
    install_crd(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-auth").await?;
    let git = GitServer::start(GitAuth::Basic {
        username: "flux".into(),
        password: "right-pa55word".into(),
    })
    .await?;
    git.create_repo("private")?
        .commit_files("master", &[("a.yaml", "a: 1\n")], "initial")?;
    let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), ns.name());
    let secret = |password: &str| Secret {
        metadata: kube::api::ObjectMeta {
            name: Some("git-auth".into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([
            ("username".to_owned(), ByteString(b"flux".to_vec())),
            (
                "password".to_owned(),
                ByteString(password.as_bytes().to_vec()),
            ),
        ])),
        ..Default::default()
    };
    secrets
        .create(&PostParams::default(), &secret(WRONG))
        .await?;
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let api: Api<GitRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    create(
        &api,
        &git_repository(
            "private",
            &controller.shard,
            &git.url("private"),
            json!({"secretRef": {"name": "git-auth"}}),
        )?,
    )
    .await?;

    wait_failing(&api, "private", "AuthenticationFailed").await?;
    assert_secret_not_leaked(
        &cluster.client,
        &api,
        ns.name(),
        "AuthenticationFailed",
        WRONG,
    )
    .await?;

    // The right password, then `flux reconcile`, makes it Ready.
    secrets
        .replace(
            "git-auth",
            &PostParams::default(),
            &secret("right-pa55word"),
        )
        .await?;
    request_reconcile(&api, "private", "fixed-credentials").await?;
    wait_ready(&api, "private", "True", "Succeeded").await?;
    api.delete("private", &DeleteParams::default()).await?;
    wait_all_gone(&api).await?;
    controller.stop().await
}

#[tokio::test]
async fn a_suspended_gitrepository_is_left_alone_until_it_is_resumed() -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crd(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-suspend").await?;
    let git = GitServer::start(GitAuth::None).await?;
    let repo = git.create_repo("app")?;
    repo.commit_files("master", &[("a.yaml", "a: 1\n")], "first")?;
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let api: Api<GitRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    for name in ["suspended", "canary"] {
        create(
            &api,
            &git_repository(name, &controller.shard, &git.url("app"), json!({}))?,
        )
        .await?;
        wait_ready(&api, name, "True", "Succeeded").await?;
    }
    patch_spec(&api, "suspended", json!({"suspend": true})).await?;
    let second = repo.commit_files("master", &[("a.yaml", "a: 2\n")], "second")?;
    request_reconcile(&api, "suspended", "while-suspended").await?;
    // The canary's request is queued after the suspended object's, so once the canary has
    // handled its request the controller has seen (and skipped) the suspended one.
    request_reconcile(&api, "canary", "while-suspended").await?;
    let second_revision = format!("master@sha1:{second}");
    let handled_at_second = |r: &GitRepository| {
        r.status.as_ref().is_some_and(|s| {
            s.last_handled_reconcile_at.as_deref() == Some("while-suspended")
                && s.artifact
                    .as_ref()
                    .is_some_and(|a| a.revision == second_revision)
        })
    };
    wait_for(
        &api,
        "canary",
        "canary at the second revision",
        handled_at_second,
    )
    .await?;
    let suspended = api.get("suspended").await?;
    let status = suspended.status.clone().expect("status");
    assert_ne!(
        status.last_handled_reconcile_at.as_deref(),
        Some("while-suspended")
    );
    assert_ne!(
        status.artifact.map(|a| a.revision),
        Some(second_revision.clone())
    );
    assert_ne!(
        status.observed_generation, suspended.metadata.generation,
        "suspension is not a reconcile"
    );

    patch_spec(&api, "suspended", json!({"suspend": false})).await?;
    wait_for(
        &api,
        "suspended",
        "resumed at the second revision",
        handled_at_second,
    )
    .await?;
    for name in ["suspended", "canary"] {
        api.delete(name, &DeleteParams::default()).await?;
    }
    wait_all_gone(&api).await?;
    controller.stop().await
}

/// Deletes go through the running controller (it owns the finalizer), so wait for them before
/// stopping it; otherwise the namespace could not be removed after the test.
#[tokio::test]
async fn with_leader_election_only_the_leader_reconciles_and_a_successor_takes_over()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crd(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-leader").await?;
    let git = GitServer::start(GitAuth::None).await?;
    let repo = git.create_repo("app")?;
    repo.commit_files("master", &[("a.yaml", "a: 1\n")], "first")?;
    // Short leases keep the test quick; the successor still has to win the Lease itself.
    let flags = [
        "--enable-leader-election",
        "--leader-election-lease-duration=4s",
        "--leader-election-renew-deadline=2s",
    ];
    let first = RunningController::start_with(&cluster, ns.name(), &flags).await?;
    let second = RunningController::start_with(&cluster, ns.name(), &flags).await?;
    let api: Api<GitRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    create(
        &api,
        &git_repository("app", &first.shard, &git.url("app"), json!({}))?,
    )
    .await?;
    let ready = wait_ready(&api, "app", "True", "Succeeded").await?;
    let url = ready
        .status
        .and_then(|s| s.artifact)
        .map(|a| a.url)
        .expect("artifact url");
    let (leader, standby) = if url.contains(&format!(":{}/", first.port)) {
        (first, second)
    } else {
        (second, first)
    };
    assert!(url.contains(&format!(":{}/", leader.port)), "{url}");
    assert!(leader.object_dir(ns.name(), "app").exists());
    assert!(
        !standby.object_dir(ns.name(), "app").exists(),
        "the standby replica reconciled too"
    );

    // Stopping the leader releases the Lease; the standby takes over and follows new commits.
    leader.stop().await?;
    let next = repo.commit_files("master", &[("a.yaml", "a: 2\n")], "second")?;
    request_reconcile(&api, "app", "after-failover").await?;
    let next_revision = format!("master@sha1:{next}");
    let standby_port = format!(":{}/", standby.port);
    let moved = wait_for(&api, "app", "the standby serving the new revision", |r| {
        r.status
            .as_ref()
            .and_then(|s| s.artifact.as_ref())
            .is_some_and(|a| a.revision == next_revision && a.url.contains(&standby_port))
    })
    .await?;
    let artifact = moved.status.and_then(|s| s.artifact).expect("artifact");
    let (code, body) = http_get(&artifact.url).await?;
    assert_eq!((code, sha256(&body)), (200, artifact.digest));
    api.delete("app", &DeleteParams::default()).await?;
    wait_all_gone(&api).await?;
    standby.stop().await
}
