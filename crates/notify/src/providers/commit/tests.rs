use serde_json::json;
use sha1::Digest;

use super::*;
use crate::providers::notifier;
use crate::providers::testserver::{
    Recorded, TestServer, info_event, post_err, post_ok, sample_event,
};

const SHA: &str = "9f3b4c1a2d5e6f708192a3b4c5d6e7f8091a2b3c";
const UID: &str = "0c9c2e41-1234-4aaa-bbbb-cccccccccccc";

fn settings(kind: &str, address: String, token: &str) -> ProviderSettings {
    let mut settings = ProviderSettings::new(kind, &address);
    settings.token = Some(token.into());
    settings.provider_uid = Some(UID.into());
    settings
}

/// Answers GETs with `listing` and everything else with 201 `{}`.
async fn server_listing(listing: &'static str) -> TestServer {
    TestServer::start_with(move |r: &Recorded| {
        if r.method == "GET" {
            (200, listing.to_owned())
        } else {
            (201, "{}".to_owned())
        }
    })
    .await
}

#[test]
fn revisions_parse_in_every_form_flux_emits() {
    let sha256 = "a".repeat(64);
    assert_eq!(
        parse_revision(&format!("main@sha1:{SHA}")).as_deref(),
        Some(SHA)
    );
    assert_eq!(parse_revision(&format!("sha1:{SHA}")).as_deref(), Some(SHA));
    assert_eq!(
        parse_revision(&format!("refs/heads/feat/x@sha1:{SHA}")).as_deref(),
        Some(SHA)
    );
    assert_eq!(
        parse_revision(&format!("v1@sha256:{sha256}")),
        Some(sha256.clone())
    );
    assert_eq!(parse_revision(&format!("main/{SHA}")).as_deref(), Some(SHA));
    assert_eq!(parse_revision(SHA).as_deref(), Some(SHA));
    assert_eq!(parse_revision("main@sha1:abc"), None);
    assert_eq!(parse_revision("6.0.0@sha256:xyz"), None);
    assert_eq!(parse_revision("1.2.3"), None);
}

#[test]
fn repository_addresses_split_into_host_and_path() {
    let cases = [
        (
            "https://github.com/org/repo",
            "https://github.com/",
            "org/repo",
        ),
        (
            "https://github.com/org/repo.git",
            "https://github.com/",
            "org/repo",
        ),
        (
            "ssh://git@github.com/org/repo.git",
            "https://github.com/",
            "org/repo",
        ),
        (
            "git@gitlab.com:group/sub/repo.git",
            "https://gitlab.com/",
            "group/sub/repo",
        ),
        ("http://127.0.0.1:3000/o/r", "http://127.0.0.1:3000/", "o/r"),
    ];
    for (address, host, id) in cases {
        let (got_host, got_id) = parse_git_address("github", address).expect(address);
        assert_eq!(
            (got_host.as_str(), got_id.as_str()),
            (host, id),
            "{address}"
        );
    }
    assert!(parse_git_address("github", "https://github.com/").is_err());
    assert!(parse_git_address("github", "ftp://x/y/z").is_err());
}

#[test]
fn the_default_status_key_is_kind_name_and_uid_head_lower_cased() {
    assert_eq!(
        commit_status_id(UID, &sample_event()),
        "kustomization/apps/0c9c2e41"
    );
}

#[tokio::test]
async fn github_posts_a_failure_status_for_the_revisions_commit() {
    let server = server_listing("[]").await;
    let address = server.url("/org/repo");
    post_ok(settings("github", address, "ghp-secret"), &sample_event()).await;
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].method, "GET");
    assert_eq!(
        requests[0].path,
        format!("/api/v3/repos/org/repo/commits/{SHA}/statuses")
    );
    let post = &requests[1];
    assert_eq!(post.method, "POST");
    assert_eq!(post.path, format!("/api/v3/repos/org/repo/statuses/{SHA}"));
    assert_eq!(post.header("authorization"), Some("Bearer ghp-secret"));
    assert_eq!(post.header("accept"), Some("application/vnd.github+json"));
    assert_eq!(
        post.json(),
        json!({
            "state": "failure",
            "description": "reconciliation failed",
            "context": "kustomization/apps/0c9c2e41"
        })
    );
}

#[tokio::test]
async fn github_does_not_repeat_the_latest_identical_status() {
    let server = server_listing(
        r#"[{"state":"success","context":"kustomization/apps/0c9c2e41","description":"reconciliation succeeded"},
            {"state":"failure","context":"kustomization/apps/0c9c2e41","description":"reconciliation failed"}]"#,
    )
    .await;
    post_ok(
        settings("github", server.url("/org/repo"), "t"),
        &info_event(),
    )
    .await;
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "only the listing: {requests:?}");
}

#[tokio::test]
async fn events_without_a_revision_and_progressing_events_post_no_github_status() {
    let server = server_listing("[]").await;
    let notifier = notifier(settings("github", server.url("/org/repo"), "t")).expect("notifier");
    let mut no_revision = sample_event();
    no_revision.metadata.clear();
    notifier.post(&no_revision).await.expect("skipped");
    let mut progressing = sample_event();
    progressing.reason = "Progressing".into();
    notifier.post(&progressing).await.expect("skipped");
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn a_revision_that_is_not_a_commit_is_an_error() {
    let server = server_listing("[]").await;
    let mut event = sample_event();
    event
        .metadata
        .insert("revision".into(), "6.0.0@sha256:nothex".into());
    let err = post_err(settings("github", server.url("/org/repo"), "t"), &event).await;
    assert!(
        err.to_string().contains("failed to extract commit hash"),
        "{err}"
    );
}

#[tokio::test]
async fn commit_status_expr_uses_the_key_the_caller_evaluated() {
    let server = server_listing("[]").await;
    let mut settings = settings("github", server.url("/org/repo"), "t");
    settings.commit_status_expr = Some("event.involvedObject.name".into());
    let notifier = notifier(settings).expect("notifier");
    let err = notifier
        .post(&sample_event())
        .await
        .expect_err("no key given");
    assert!(err.to_string().contains("commitStatusExpr"), "{err}");
    notifier
        .post_with_commit_status(&sample_event(), "custom/apps")
        .await
        .expect("posted");
    let requests = server.requests();
    assert_eq!(
        requests.last().expect("post").json()["context"],
        "custom/apps"
    );
}

#[tokio::test]
async fn gitlab_lists_by_name_then_posts_to_the_url_encoded_project() {
    let server = server_listing("[]").await;
    post_ok(
        settings("gitlab", server.url("/group/sub/repo.git"), "glpat-secret"),
        &sample_event(),
    )
    .await;
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].path,
        format!("/api/v4/projects/group%2Fsub%2Frepo/repository/commits/{SHA}/statuses")
    );
    assert_eq!(
        requests[0].query.as_deref(),
        Some("name=kustomization%2Fapps%2F0c9c2e41")
    );
    let post = &requests[1];
    assert_eq!(post.method, "POST");
    assert_eq!(
        post.path,
        format!("/api/v4/projects/group%2Fsub%2Frepo/statuses/{SHA}")
    );
    assert_eq!(post.header("private-token"), Some("glpat-secret"));
    assert_eq!(
        post.json(),
        json!({"state": "failed", "name": "kustomization/apps/0c9c2e41",
               "description": "reconciliation failed"})
    );
}

#[tokio::test]
async fn gitlab_does_not_repeat_an_identical_status() {
    let listing = r#"[{"sha":"9f3b4c1a2d5e6f708192a3b4c5d6e7f8091a2b3c","status":"failed",
        "name":"kustomization/apps/0c9c2e41","description":"reconciliation failed"}]"#;
    let server = server_listing(listing).await;
    post_ok(
        settings("gitlab", server.url("/group/repo"), "t"),
        &sample_event(),
    )
    .await;
    assert_eq!(server.requests().len(), 1, "only the listing");
}

#[tokio::test]
async fn gitea_lists_then_posts_with_a_token_header_and_pending_for_progressing() {
    let server = server_listing("[]").await;
    let mut progressing = info_event();
    progressing.reason = "Progressing".into();
    post_ok(
        settings("gitea", server.url("/owner/repo"), "gitea-secret"),
        &progressing,
    )
    .await;
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].path,
        format!("/api/v1/repos/owner/repo/commits/{SHA}/statuses")
    );
    assert_eq!(
        requests[1].path,
        format!("/api/v1/repos/owner/repo/statuses/{SHA}")
    );
    assert_eq!(
        requests[1].header("authorization"),
        Some("token gitea-secret")
    );
    assert_eq!(
        requests[1].json(),
        json!({"state": "pending", "target_url": "", "description": "progressing",
               "context": "kustomization/apps/0c9c2e41"})
    );
}

#[tokio::test]
async fn bitbucket_checks_the_key_then_posts_a_build_status() {
    let server = TestServer::start_with(|r: &Recorded| {
        if r.method == "GET" {
            (404, r#"{"type":"error"}"#.to_owned())
        } else {
            (201, "{}".to_owned())
        }
    })
    .await;
    post_ok(
        settings("bitbucket", server.url("/owner/repo.git"), "user:app-pass"),
        &info_event(),
    )
    .await;
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let key = hex::encode(sha1::Sha1::digest(b"kustomization/apps/0c9c2e41"));
    let path = format!("/2.0/repositories/owner/repo/commit/{SHA}/statuses/build");
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].path, format!("{path}/{key}"));
    let post = &requests[1];
    assert_eq!(post.path, path);
    assert_eq!(
        post.header("authorization"),
        Some("Basic dXNlcjphcHAtcGFzcw==")
    );
    assert_eq!(
        post.json(),
        json!({"state": "SUCCESSFUL", "key": key, "name": "kustomization/apps",
               "description": "reconciliation succeeded", "url": "https://bitbucket.org"})
    );
}

#[tokio::test]
async fn bitbucket_does_not_repeat_the_status_stored_under_its_key() {
    let server =
        server_listing(r#"{"state":"FAILED","description":"reconciliation failed"}"#).await;
    post_ok(
        settings("bitbucket", server.url("/owner/repo"), "user:app-pass"),
        &sample_event(),
    )
    .await;
    assert_eq!(server.requests().len(), 1, "only the lookup");
}

#[test]
fn a_bitbucket_token_must_be_user_colon_password() {
    let err = notifier(settings(
        "bitbucket",
        "https://bitbucket.org/o/r".into(),
        "nocolon",
    ))
    .err()
    .expect("error");
    assert!(err.to_string().contains("<user>:<password>"), "{err}");
    assert!(!err.to_string().contains("nocolon"), "{err}");
}

#[tokio::test]
async fn bitbucket_server_checks_the_key_then_posts_under_the_context_path() {
    let server = TestServer::start_with(|r: &Recorded| {
        if r.method == "GET" {
            (404, "{}".to_owned())
        } else {
            (204, String::new())
        }
    })
    .await;
    let address = server.url("/bitbucket/scm/proj/repo.git");
    let mut settings = settings("bitbucketserver", address.clone(), "");
    settings.token = None;
    settings.username = Some("jane".into());
    settings.password = Some("pw".into());
    post_ok(settings, &sample_event()).await;
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let path = format!("/bitbucket/rest/api/latest/projects/proj/repos/repo/commits/{SHA}/builds");
    let key = hex::encode(sha1::Sha1::digest(b"kustomization/apps/0c9c2e41"));
    assert_eq!(requests[0].path, path);
    assert_eq!(
        requests[0].query.as_deref(),
        Some(format!("key={key}").as_str())
    );
    assert_eq!(requests[1].path, path);
    assert_eq!(
        requests[1].header("authorization"),
        Some("Basic amFuZTpwdw==")
    );
    assert_eq!(requests[1].header("x-atlassian-token"), Some("no-check"));
    assert_eq!(
        requests[1].json(),
        json!({"key": key, "state": "FAILED", "url": address,
               "description": "reconciliation failed",
               "name": "kustomization/apps [reconciliation failed]"})
    );
}

#[tokio::test]
async fn azure_devops_lists_then_posts_a_fluxcd_genre_status() {
    let server = server_listing(r#"{"count":0,"value":[]}"#).await;
    post_ok(
        settings(
            "azuredevops",
            server.url("/org/proj/_git/repo"),
            "pat-secret",
        ),
        &sample_event(),
    )
    .await;
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let path = format!("/org/proj/_apis/git/repositories/repo/commits/{SHA}/statuses");
    assert_eq!(requests[1].path, path);
    assert_eq!(requests[1].query.as_deref(), Some("api-version=6.0"));
    assert_eq!(
        requests[1].header("authorization"),
        Some("Basic OnBhdC1zZWNyZXQ=")
    );
    assert_eq!(
        requests[1].json(),
        json!({"state": "error", "description": "reconciliation failed",
               "context": {"genre": "fluxcd", "name": "kustomization/apps/0c9c2e41"}})
    );
}

#[tokio::test]
async fn commit_status_errors_never_show_the_token() {
    let server =
        TestServer::start_with_status(401, r#"{"message":"Bad credentials ghp-secret"}"#).await;
    for kind in ["github", "gitlab", "gitea", "azuredevops"] {
        let address = if kind == "azuredevops" {
            server.url("/org/proj/_git/repo")
        } else {
            server.url("/org/repo")
        };
        let err = post_err(settings(kind, address, "ghp-secret"), &sample_event()).await;
        let text = err.to_string();
        assert!(text.contains("401"), "{kind}: {text}");
        assert!(!text.contains("ghp-secret"), "{kind}: {text}");
    }
}
