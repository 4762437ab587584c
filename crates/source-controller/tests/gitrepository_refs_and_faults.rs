//! GitRepository reconciliation for every `spec.ref` kind, bearer-token and broken Secrets,
//! hostile input, `.sourceignore`, the `spec.interval` requeue and the `/metrics` endpoint: the
//! controller in-process against the local control plane and a loopback git server, as in
//! `gitrepository.rs` (whose helpers in `common/` this file shares).

mod common;

use std::collections::BTreeMap;

use common::*;
use driftless_api::source::GitRepository;
use driftless_artifact::{FetchOptions, Fetcher};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::json;
use testkit::TestNamespace;
use testkit::git_server::{GitAuth, GitServer};

/// The revision in `status.artifact`, if any.
fn artifact_revision(repo: &GitRepository) -> Option<&str> {
    repo.status
        .as_ref()
        .and_then(|s| s.artifact.as_ref())
        .map(|a| a.revision.as_str())
}

/// Waits for Ready=True at exactly `revision`.
async fn wait_revision(
    api: &Api<GitRepository>,
    name: &str,
    revision: &str,
) -> anyhow::Result<GitRepository> {
    wait_for(api, name, &format!("{name} Ready at {revision}"), |r| {
        condition(r, "Ready").is_some_and(|c| c.status == "True")
            && artifact_revision(r) == Some(revision)
    })
    .await
}

/// Deletes every GitRepository of the namespace through the running controller (it owns the
/// finalizer) and waits until they are gone, so the namespace can be removed after the test.
/// Duplicates the private helper of `gitrepository.rs`, which cannot be shared without
/// editing that file.
async fn delete_all(api: &Api<GitRepository>) -> anyhow::Result<()> {
    for repo in api.list(&ListParams::default()).await?.items {
        if let Some(name) = repo.metadata.name {
            api.delete(&name, &DeleteParams::default()).await?;
        }
    }
    wait_all_gone(api).await
}

/// A Secret named `name` with `data`.
fn secret(name: &str, data: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec())))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..Default::default()
    }
}

/// A loopback port nothing listens on: bound, then released.
async fn closed_port() -> anyhow::Result<u16> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    Ok(listener.local_addr()?.port())
}

#[tokio::test]
async fn tag_semver_commit_and_ref_name_each_check_out_their_commit_with_fluxs_revision_string()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crd(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-refs").await?;
    let git = GitServer::start(GitAuth::None).await?;
    let repo = git.create_repo("app")?;
    let v1_0 = repo.commit_files("master", &[("v.yaml", "v: 1.0.0\n")], "1.0.0")?;
    repo.tag("v1.0.0", &v1_0, None)?;
    let v1_2 = repo.commit_files("master", &[("v.yaml", "v: 1.2.0\n")], "1.2.0")?;
    // Annotated: the revision names the commit the tag points at, not the tag object.
    repo.tag("v1.2.0", &v1_2, Some("release 1.2.0"))?;
    let v2_0 = repo.commit_files("master", &[("v.yaml", "v: 2.0.0\n")], "2.0.0")?;
    repo.tag("v2.0.0", &v2_0, None)?;
    let pull = repo.commit_files("feature", &[("pr.yaml", "pr: 1\n")], "pull request")?;
    repo.push_ref(&pull, "refs/pull/1/head")?;
    let tip = repo.commit_files("master", &[("v.yaml", "v: next\n")], "unreleased")?;

    let controller = RunningController::start(&cluster, ns.name()).await?;
    let api: Api<GitRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    let url = git.url("app");
    let cases = [
        (
            "tag",
            json!({"tag": "v1.2.0"}),
            format!("v1.2.0@sha1:{v1_2}"),
        ),
        (
            "semver",
            json!({"semver": ">=1.0.0 <2.0.0"}),
            format!("v1.2.0@sha1:{v1_2}"),
        ),
        (
            "semver-any",
            json!({"semver": "*"}),
            format!("v2.0.0@sha1:{v2_0}"),
        ),
        ("commit", json!({"commit": v1_0}), format!("sha1:{v1_0}")),
        (
            "commit-on-branch",
            json!({"branch": "master", "commit": v1_0}),
            format!("master@sha1:{v1_0}"),
        ),
        (
            "ref-name",
            json!({"name": "refs/pull/1/head"}),
            format!("refs/pull/1/head@sha1:{pull}"),
        ),
        (
            "ref-name-branch",
            json!({"name": "refs/heads/master"}),
            format!("refs/heads/master@sha1:{tip}"),
        ),
    ];
    for (name, reference, _) in &cases {
        create(
            &api,
            &git_repository(name, &controller.shard, &url, json!({"ref": reference}))?,
        )
        .await?;
    }
    for (name, _, revision) in &cases {
        let ready = wait_revision(&api, name, revision).await?;
        assert_eq!(
            condition(&ready, "Ready").map(|c| c.message.clone()),
            Some(format!("stored artifact for revision '{revision}'")),
            "{name}"
        );
    }

    // The semver pick follows a newly pushed matching tag on the next reconcile.
    let v1_3 = repo.commit_files("master", &[("v.yaml", "v: 1.3.0\n")], "1.3.0")?;
    repo.tag("v1.3.0", &v1_3, None)?;
    request_reconcile(&api, "semver", "new-tag").await?;
    wait_revision(&api, "semver", &format!("v1.3.0@sha1:{v1_3}")).await?;

    delete_all(&api).await?;
    controller.stop().await
}

#[tokio::test]
async fn a_bearer_token_authenticates_and_broken_secrets_are_authentication_failed_without_a_crash()
-> anyhow::Result<()> {
    const TOKEN: &str = "b3arer-t0ken-never-shown";
    let cluster = testkit::cluster().await?;
    install_crd(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-bearer").await?;
    let git = GitServer::start(GitAuth::Bearer(TOKEN.into())).await?;
    let commit =
        git.create_repo("private")?
            .commit_files("master", &[("a.yaml", "a: 1\n")], "initial")?;
    let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), ns.name());
    for s in [
        secret("token", &[("bearerToken", TOKEN)]),
        // `password` without `username`: keys missing for basic auth.
        secret("no-username", &[("password", TOKEN)]),
        // No keys at all: anonymous, which this server refuses.
        secret("empty", &[]),
    ] {
        secrets.create(&PostParams::default(), &s).await?;
    }
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let api: Api<GitRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    let url = git.url("private");
    for (name, secret_name) in [
        ("token", "token"),
        ("no-username", "no-username"),
        ("empty", "empty"),
        ("missing", "does-not-exist"),
    ] {
        create(
            &api,
            &git_repository(
                name,
                &controller.shard,
                &url,
                json!({"secretRef": {"name": secret_name}}),
            )?,
        )
        .await?;
    }

    wait_revision(&api, "token", &format!("master@sha1:{commit}")).await?;

    let no_username = wait_failing(&api, "no-username", "AuthenticationFailed").await?;
    let message = condition(&no_username, "Ready")
        .expect("Ready")
        .message
        .clone();
    assert_eq!(
        message,
        format!(
            "invalid secret '{}/no-username': key 'password' is set without 'username'",
            ns.name()
        )
    );
    assert_eq!(
        condition(&no_username, "FetchFailed").map(|c| c.status.as_str()),
        Some("True")
    );

    let empty = wait_failing(&api, "empty", "AuthenticationFailed").await?;
    let message = &condition(&empty, "Ready").expect("Ready").message;
    assert!(
        message.starts_with("failed to checkout and determine revision: "),
        "{message}"
    );

    let missing = wait_failing(&api, "missing", "AuthenticationFailed").await?;
    let message = &condition(&missing, "Ready").expect("Ready").message;
    assert!(
        message.starts_with(&format!(
            "failed to get secret '{}/does-not-exist'",
            ns.name()
        )),
        "{message}"
    );

    assert_secret_not_leaked(
        &cluster.client,
        &api,
        ns.name(),
        "AuthenticationFailed",
        TOKEN,
    )
    .await?;

    // Still alive: fixing a broken Secret recovers its object.
    secrets
        .replace(
            "no-username",
            &PostParams::default(),
            &secret("no-username", &[("bearerToken", TOKEN)]),
        )
        .await?;
    request_reconcile(&api, "no-username", "fixed-secret").await?;
    wait_revision(&api, "no-username", &format!("master@sha1:{commit}")).await?;

    delete_all(&api).await?;
    controller.stop().await
}

#[tokio::test]
async fn hostile_input_gives_a_clear_condition_each_and_the_controller_keeps_reconciling()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crd(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-hostile").await?;
    let git = GitServer::start(GitAuth::None).await?;
    let repo = git.create_repo("app")?;
    let commit = repo.commit_files("master", &[("a.yaml", "a: 1\n")], "initial")?;
    repo.tag("v1.0.0", &commit, None)?;
    let escaping = git.create_repo("escaping")?;
    escaping.commit_files("master", &[("a.yaml", "a: 1\n")], "initial")?;
    escaping.commit_symlink("master", "passwd", "../../../../etc/passwd")?;
    let url = git.url("app");
    let unreachable = format!("http://127.0.0.1:{}/app.git", closed_port().await?);
    let unknown_commit = "0123456789abcdef0123456789abcdef01234567";

    let controller = RunningController::start(&cluster, ns.name()).await?;
    let api: Api<GitRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    // (name, url, ref, reason, stalls, message fragment)
    let cases = [
        (
            "unreachable",
            unreachable.clone(),
            json!({}),
            "GitOperationFailed",
            false,
            unreachable.clone(),
        ),
        (
            "malformed-url",
            "http:///no-host.git".to_owned(),
            json!({}),
            "URLInvalid",
            true,
            "missing host".to_owned(),
        ),
        (
            "unknown-tag",
            url.clone(),
            json!({"tag": "v9.9.9"}),
            "GitOperationFailed",
            false,
            "unable to resolve tag 'v9.9.9'".to_owned(),
        ),
        (
            "unknown-commit",
            url.clone(),
            json!({"commit": unknown_commit}),
            "GitOperationFailed",
            false,
            format!("commit '{unknown_commit}' not found"),
        ),
        (
            "semver-no-match",
            url.clone(),
            json!({"semver": ">=5.0.0"}),
            "GitOperationFailed",
            false,
            "no tag in".to_owned(),
        ),
        (
            "symlink-outside",
            git.url("escaping"),
            json!({}),
            "GitOperationFailed",
            false,
            "symlink 'passwd' points outside the checkout".to_owned(),
        ),
    ];
    for (name, url, reference, ..) in &cases {
        create(
            &api,
            &git_repository(name, &controller.shard, url, json!({"ref": reference}))?,
        )
        .await?;
    }
    for (name, _, _, reason, stalls, fragment) in &cases {
        let failed = wait_failing(&api, name, reason).await?;
        let ready = condition(&failed, "Ready").expect("Ready");
        assert!(
            ready.message.contains(fragment.as_str()),
            "{name}: {}",
            ready.message
        );
        assert_eq!(
            condition(&failed, "FetchFailed").map(|c| (c.status.as_str(), c.reason.as_str())),
            Some(("True", *reason)),
            "{name}"
        );
        assert_eq!(
            condition(&failed, "Stalled").is_some_and(|c| c.status == "True"),
            *stalls,
            "{name}: Stalled only when retrying cannot help"
        );
        assert!(artifact_revision(&failed).is_none(), "{name}");
    }

    // Nothing above took the controller down: a good object still reconciles.
    create(
        &api,
        &git_repository("canary", &controller.shard, &url, json!({}))?,
    )
    .await?;
    wait_revision(&api, "canary", &format!("master@sha1:{commit}")).await?;

    delete_all(&api).await?;
    controller.stop().await
}

#[tokio::test]
async fn sourceignore_files_in_the_repository_are_honoured_and_replace_the_default_exclusions()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crd(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-ignore").await?;
    let git = GitServer::start(GitAuth::None).await?;
    git.create_repo("app")?.commit_files(
        "master",
        &[
            (".sourceignore", "/secrets/\n*.bin\n"),
            ("deploy/.sourceignore", "local.yaml\n"),
            ("deploy/app.yaml", "kind: ConfigMap\n"),
            ("deploy/local.yaml", "kind: ConfigMap\n"),
            ("secrets/key.yaml", "kind: Secret\n"),
            ("tools/blob.bin", "binary\n"),
            // Flux's SourceIgnoreFilter drops the default exclusions once any pattern exists.
            (
                "logo.png",
                "kept: a .sourceignore replaces the default list\n",
            ),
            ("deploy/.gitignore", "VCS files stay excluded\n"),
        ],
        "with ignore files",
    )?;
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let api: Api<GitRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    create(
        &api,
        &git_repository("app", &controller.shard, &git.url("app"), json!({}))?,
    )
    .await?;
    let ready = wait_ready(&api, "app", "True", "Succeeded").await?;
    let artifact = ready.status.and_then(|s| s.artifact).expect("artifact");
    let out = tempfile::tempdir()?;
    Fetcher::new(FetchOptions::default())?
        .fetch(&artifact.url, &artifact.digest, out.path())
        .await?;
    assert_eq!(
        files_under(out.path())?,
        [
            ".sourceignore",
            "deploy/.sourceignore",
            "deploy/app.yaml",
            "logo.png"
        ]
    );
    delete_all(&api).await?;
    controller.stop().await
}

#[tokio::test]
async fn a_push_is_picked_up_at_the_next_interval_without_a_reconcile_request() -> anyhow::Result<()>
{
    let cluster = testkit::cluster().await?;
    install_crd(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-interval").await?;
    let git = GitServer::start(GitAuth::None).await?;
    let repo = git.create_repo("app")?;
    let first = repo.commit_files("master", &[("a.yaml", "a: 1\n")], "first")?;
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let api: Api<GitRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    create(
        &api,
        &git_repository(
            "app",
            &controller.shard,
            &git.url("app"),
            json!({"interval": "2s"}),
        )?,
    )
    .await?;
    wait_revision(&api, "app", &format!("master@sha1:{first}")).await?;

    // No annotation, no spec change: only the interval requeue can notice this commit.
    let second = repo.commit_files("master", &[("a.yaml", "a: 2\n")], "second")?;
    let updated = wait_revision(&api, "app", &format!("master@sha1:{second}")).await?;
    assert!(
        !updated
            .metadata
            .annotations
            .clone()
            .unwrap_or_default()
            .contains_key("reconcile.fluxcd.io/requestedAt")
    );
    assert_eq!(
        updated
            .status
            .and_then(|s| s.last_handled_reconcile_at)
            .as_deref(),
        None,
        "no reconcile was requested"
    );
    delete_all(&api).await?;
    controller.stop().await
}

#[tokio::test]
async fn metrics_show_the_reconcile_duration_of_the_object_after_one_reconcile()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crd(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-metrics").await?;
    let git = GitServer::start(GitAuth::None).await?;
    git.create_repo("app")?
        .commit_files("master", &[("a.yaml", "a: 1\n")], "first")?;
    // The controller binds the address itself; a just-released ephemeral port is free.
    let metrics_addr = format!("127.0.0.1:{}", closed_port().await?);
    let flag = format!("--metrics-addr={metrics_addr}");
    let controller = RunningController::start_with(&cluster, ns.name(), &[&flag]).await?;
    let api: Api<GitRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    create(
        &api,
        &git_repository("app", &controller.shard, &git.url("app"), json!({}))?,
    )
    .await?;
    wait_ready(&api, "app", "True", "Succeeded").await?;

    // The duration is observed when the reconcile returns, just after the status patch.
    let series = format!(
        "gotk_reconcile_duration_seconds_count{{kind=\"GitRepository\",name=\"app\",namespace=\"{}\"}}",
        ns.name()
    );
    let url = format!("http://{metrics_addr}/metrics");
    let text = testkit::wait::until(WAIT, "the reconcile duration series", || {
        let url = url.clone();
        let series = series.clone();
        async move {
            let (code, body) = http_get(&url).await.map_err(|e| e.to_string())?;
            let text = String::from_utf8_lossy(&body).into_owned();
            if code == 200 && text.contains(&series) {
                Ok(Some(text))
            } else {
                Err(format!("HTTP {code}"))
            }
        }
    })
    .await
    .map_err(anyhow::Error::msg)?;
    let line = text
        .lines()
        .find(|l| l.starts_with(&series))
        .expect("series line");
    let count: f64 = line.rsplit(' ').next().expect("sample value").parse()?;
    assert!(count >= 1.0, "{line}");
    assert!(
        text.contains("gotk_reconcile_duration_seconds_bucket{kind=\"GitRepository\",name=\"app\""),
        "histogram buckets are exported"
    );
    delete_all(&api).await?;
    controller.stop().await
}

#[tokio::test]
async fn a_sparse_checkout_artifact_holds_only_the_listed_directories() -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crd(&cluster.client).await?;
    let ns = testkit::TestNamespace::create(&cluster, "sc-sparse").await?;
    let git = testkit::git_server::GitServer::start(testkit::git_server::GitAuth::None).await?;
    let repo = git.create_repo("fleet")?;
    repo.commit_files(
        "main",
        &[
            ("clusters/prod/apps.yaml", "kind: ConfigMap\n"),
            ("clusters/staging/apps.yaml", "kind: ConfigMap\n"),
            ("infra/db.yaml", "kind: Secret\n"),
        ],
        "tree",
    )?;
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let api: kube::Api<driftless_api::source::GitRepository> =
        kube::Api::namespaced(cluster.client.clone(), ns.name());
    let spec = serde_json::json!({"ref": {"branch": "main"},
        "sparseCheckout": ["clusters/prod", "infra"]});
    create(
        &api,
        &git_repository("fleet", &controller.shard, &git.url("fleet"), spec)?,
    )
    .await?;
    let ready = wait_ready(&api, "fleet", "True", "Succeeded").await?;
    let status = ready.status.expect("status");
    assert_eq!(
        status.observed_sparse_checkout,
        Some(vec!["clusters/prod".to_owned(), "infra".to_owned()])
    );
    let artifact = status.artifact.expect("artifact");
    let out = tempfile::tempdir()?;
    driftless_artifact::Fetcher::new(driftless_artifact::FetchOptions::default())?
        .fetch(&artifact.url, &artifact.digest, out.path())
        .await?;
    assert_eq!(
        files_under(out.path())?,
        ["clusters/prod/apps.yaml", "infra/db.yaml"]
    );
    controller.stop().await
}
