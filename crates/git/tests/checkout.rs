//! Checkout against a real `git http-backend` on loopback.
#![allow(clippy::panic)]

use std::path::Path;
use std::time::Duration;

use driftless_git::{
    Auth, BasicAuth, CheckoutOptions, GitError, Outcome, Reference, checkout, ls_remote,
};
use testkit::git_server::{GitAuth, GitServer, SilentServer, TestRepo};

async fn server_with_repo(auth: GitAuth) -> anyhow::Result<(GitServer, TestRepo)> {
    let server = GitServer::start(auth).await?;
    let repo = server.create_repo("fleet")?;
    Ok((server, repo))
}

async fn run(url: String, options: CheckoutOptions, dest: &Path) -> Result<Outcome, GitError> {
    let dest = dest.to_path_buf();
    tokio::task::spawn_blocking(move || checkout(&url, &dest, &options))
        .await
        .expect("checkout thread")
}

fn with_ref(reference: Reference) -> CheckoutOptions {
    CheckoutOptions {
        reference,
        timeout: Duration::from_secs(30),
        ..CheckoutOptions::default()
    }
}

/// Check out `main` with `auth` into a throwaway directory.
async fn checkout_main(url: String, auth: Auth) -> Result<Outcome, GitError> {
    let dest = tempfile::tempdir().expect("tempdir");
    let mut options = with_ref(Reference::branch("main"));
    options.auth = auth;
    run(url, options, dest.path()).await
}

fn basic(username: &str, password: &str) -> Auth {
    Auth {
        basic: Some(BasicAuth {
            username: username.into(),
            password: password.into(),
        }),
        ..Auth::default()
    }
}

fn checked_out(outcome: Outcome) -> driftless_git::Commit {
    match outcome {
        Outcome::CheckedOut { commit, .. } => commit,
        Outcome::Unchanged { revision } => panic!("unexpected no-op at {revision}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cloning_a_branch_gives_flux_revision_and_files() -> anyhow::Result<()> {
    let (server, repo) = server_with_repo(GitAuth::None).await?;
    repo.commit_files("main", &[("apps/app.yaml", "kind: ConfigMap\n")], "first")?;
    let sha = repo.commit_files("main", &[("README.md", "hello\n")], "second commit")?;
    let dest = tempfile::tempdir()?;
    let commit = checked_out(
        run(
            server.url("fleet"),
            with_ref(Reference::branch("main")),
            dest.path(),
        )
        .await?,
    );
    assert_eq!(commit.revision, format!("main@sha1:{sha}"));
    assert_eq!(commit.id, sha);
    assert_eq!(commit.message.trim(), "second commit");
    assert_eq!(commit.author.name, "Test Author");
    assert_eq!(
        std::fs::read_to_string(dest.path().join("apps/app.yaml"))?,
        "kind: ConfigMap\n"
    );
    assert_eq!(
        std::fs::read_to_string(dest.path().join("README.md"))?,
        "hello\n"
    );
    assert!(!dest.path().join(".git").exists());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sparse_checkout_writes_only_the_listed_directories_at_their_paths() -> anyhow::Result<()>
{
    let (server, repo) = server_with_repo(GitAuth::None).await?;
    repo.commit_files(
        "main",
        &[
            ("apps/prod/app.yaml", "kind: ConfigMap\n"),
            ("infra/db.yaml", "kind: Secret\n"),
            ("docs/big.md", "not wanted\n"),
            ("README.md", "hello\n"),
        ],
        "tree",
    )?;
    let dest = tempfile::tempdir()?;
    let mut options = with_ref(Reference::branch("main"));
    options.sparse_checkout = vec!["./apps".into(), "infra/".into(), "apps/prod".into()];
    checked_out(run(server.url("fleet"), options.clone(), dest.path()).await?);
    assert_eq!(
        std::fs::read_to_string(dest.path().join("apps/prod/app.yaml"))?,
        "kind: ConfigMap\n"
    );
    assert!(dest.path().join("infra/db.yaml").exists());
    assert!(!dest.path().join("docs").exists());
    assert!(!dest.path().join("README.md").exists());

    // A directory the commit lacks is an error naming it; so is one climbing out.
    let missing = tempfile::tempdir()?;
    options.sparse_checkout = vec!["apps".into(), "nowhere".into()];
    let err = run(server.url("fleet"), options.clone(), missing.path())
        .await
        .expect_err("missing directory");
    assert_eq!(
        err.to_string(),
        "sparse checkout directory 'nowhere' does not exist in the commit"
    );
    let outside = tempfile::tempdir()?;
    options.sparse_checkout = vec!["../etc".into()];
    assert!(
        run(server.url("fleet"), options, outside.path())
            .await
            .is_err()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_ref_checks_out_master() -> anyhow::Result<()> {
    let (server, repo) = server_with_repo(GitAuth::None).await?;
    let sha = repo.commit_files("master", &[("a", "1")], "m")?;
    let dest = tempfile::tempdir()?;
    let commit = checked_out(
        run(
            server.url("fleet"),
            with_ref(Reference::default()),
            dest.path(),
        )
        .await?,
    );
    assert_eq!(commit.revision, format!("master@sha1:{sha}"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_annotated_tag_resolves_to_its_commit() -> anyhow::Result<()> {
    let (server, repo) = server_with_repo(GitAuth::None).await?;
    let tagged = repo.commit_files("main", &[("v", "1")], "one")?;
    repo.tag("v1.0.0", &tagged, Some("release 1"))?;
    repo.commit_files("main", &[("v", "2")], "two")?;
    let dest = tempfile::tempdir()?;
    let reference = Reference {
        tag: Some("v1.0.0".into()),
        ..Reference::default()
    };
    let commit = checked_out(run(server.url("fleet"), with_ref(reference), dest.path()).await?);
    assert_eq!(commit.revision, format!("v1.0.0@sha1:{tagged}"));
    assert_eq!(std::fs::read_to_string(dest.path().join("v"))?, "1");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn semver_picks_the_highest_matching_tag() -> anyhow::Result<()> {
    let (server, repo) = server_with_repo(GitAuth::None).await?;
    let mut shas = Vec::new();
    for (tag, annotated) in [
        ("v1.0.0", false),
        ("v1.2.0", true),
        ("v1.3.0-rc.1", false),
        ("v2.0.0", false),
    ] {
        let sha = repo.commit_files("main", &[("version", tag)], tag)?;
        repo.tag(tag, &sha, annotated.then_some("annotated"))?;
        shas.push(sha);
    }
    repo.tag("latest", &shas[3], None)?;
    let dest = tempfile::tempdir()?;
    let reference = Reference {
        semver: Some(">=1.0.0 <2.0.0".into()),
        ..Reference::default()
    };
    let commit = checked_out(run(server.url("fleet"), with_ref(reference), dest.path()).await?);
    assert_eq!(commit.revision, format!("v1.2.0@sha1:{}", shas[1]));
    assert_eq!(
        std::fs::read_to_string(dest.path().join("version"))?,
        "v1.2.0"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_semver_range_without_match_is_a_clear_error() -> anyhow::Result<()> {
    let (server, repo) = server_with_repo(GitAuth::None).await?;
    let sha = repo.commit_files("main", &[("a", "1")], "one")?;
    repo.tag("v1.0.0", &sha, None)?;
    let dest = tempfile::tempdir()?;
    let reference = Reference {
        semver: Some("^3".into()),
        ..Reference::default()
    };
    let err = run(server.url("fleet"), with_ref(reference), dest.path())
        .await
        .expect_err("no match");
    assert!(matches!(err, GitError::NoSemverMatch { .. }), "{err}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pinned_commit_is_checked_out_with_or_without_its_branch() -> anyhow::Result<()> {
    let (server, repo) = server_with_repo(GitAuth::None).await?;
    let old = repo.commit_files("main", &[("f", "old")], "old")?;
    repo.commit_files("main", &[("f", "new")], "new")?;
    for (branch, want) in [
        (Some("main"), format!("main@sha1:{old}")),
        (None, format!("sha1:{old}")),
    ] {
        let dest = tempfile::tempdir()?;
        let reference = Reference {
            commit: Some(old.clone()),
            branch: branch.map(str::to_string),
            ..Reference::default()
        };
        let commit = checked_out(run(server.url("fleet"), with_ref(reference), dest.path()).await?);
        assert_eq!(commit.revision, want);
        assert_eq!(std::fs::read_to_string(dest.path().join("f"))?, "old");
    }
    let dest = tempfile::tempdir()?;
    let missing = Reference {
        commit: Some("0".repeat(40)),
        ..Reference::default()
    };
    let err = run(server.url("fleet"), with_ref(missing), dest.path())
        .await
        .expect_err("missing");
    assert!(matches!(err, GitError::CommitNotFound { .. }), "{err}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ref_name_checks_out_that_ref_with_its_full_name_in_the_revision() -> anyhow::Result<()> {
    let (server, repo) = server_with_repo(GitAuth::None).await?;
    repo.commit_files("main", &[("f", "main")], "main")?;
    let pr = repo.commit_files("feature", &[("f", "pr")], "pr")?;
    repo.push_ref(&pr, "refs/pull/1/head")?;
    let dest = tempfile::tempdir()?;
    let reference = Reference {
        name: Some("refs/pull/1/head".into()),
        ..Reference::default()
    };
    let commit = checked_out(run(server.url("fleet"), with_ref(reference), dest.path()).await?);
    assert_eq!(commit.revision, format!("refs/pull/1/head@sha1:{pr}"));
    assert_eq!(std::fs::read_to_string(dest.path().join("f"))?, "pr");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_branch_is_a_clear_error() -> anyhow::Result<()> {
    let (server, repo) = server_with_repo(GitAuth::None).await?;
    repo.commit_files("main", &[("f", "x")], "x")?;
    let dest = tempfile::tempdir()?;
    let err = run(
        server.url("fleet"),
        with_ref(Reference::branch("nope")),
        dest.path(),
    )
    .await
    .expect_err("missing branch");
    assert!(matches!(err, GitError::RefNotFound { .. }), "{err}");
    assert!(err.to_string().contains("branch 'nope'"), "{err}");
    Ok(())
}

fn basic_server_auth(password: &str) -> GitAuth {
    GitAuth::Basic {
        username: "bob".into(),
        password: password.into(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_auth_with_the_right_password_clones() -> anyhow::Result<()> {
    let (server, repo) = server_with_repo(basic_server_auth("hunter2-secret")).await?;
    let sha = repo.commit_files("main", &[("f", "x")], "x")?;
    let commit =
        checked_out(checkout_main(server.url("fleet"), basic("bob", "hunter2-secret")).await?);
    assert_eq!(commit.id, sha);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_credentials_give_an_auth_error_without_the_password() -> anyhow::Result<()> {
    let (server, repo) = server_with_repo(basic_server_auth("right-password")).await?;
    repo.commit_files("main", &[("f", "x")], "x")?;
    let err = checkout_main(server.url("fleet"), basic("bob", "wrong-pa55word"))
        .await
        .expect_err("rejected");
    assert!(matches!(err, GitError::Authentication { .. }), "{err:?}");
    assert_eq!(err.reason(), "AuthenticationFailed");
    let text = format!("{err} {err:?}");
    assert!(
        !text.contains("wrong-pa55word") && !text.contains("right-password"),
        "{text}"
    );

    // A password embedded in the URL is never echoed either.
    let url = server
        .url("fleet")
        .replace("http://", "http://bob:url-pa55word@");
    let err = checkout_main(url, Auth::default())
        .await
        .expect_err("rejected");
    let text = format!("{err} {err:?}");
    assert!(matches!(err, GitError::Authentication { .. }), "{text}");
    assert!(!text.contains("url-pa55word"), "{text}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bearer_token_is_sent_and_a_missing_one_is_an_auth_error() -> anyhow::Result<()> {
    let (server, repo) = server_with_repo(GitAuth::Bearer("tok-123".into())).await?;
    let sha = repo.commit_files("main", &[("f", "x")], "x")?;
    let token = Auth {
        bearer_token: Some("tok-123".into()),
        ..Auth::default()
    };
    let commit = checked_out(checkout_main(server.url("fleet"), token).await?);
    assert_eq!(commit.id, sha);
    let err = checkout_main(server.url("fleet"), Auth::default())
        .await
        .expect_err("no token");
    assert!(matches!(err, GitError::Authentication { .. }), "{err:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unchanged_remote_is_reported_without_a_checkout() -> anyhow::Result<()> {
    let (server, repo) = server_with_repo(GitAuth::None).await?;
    let sha = repo.commit_files("main", &[("f", "x")], "x")?;
    let dest = tempfile::tempdir()?;
    let mut options = with_ref(Reference::branch("main"));
    options.last_observed_revision = Some(format!("main@sha1:{sha}"));
    let outcome = run(server.url("fleet"), options.clone(), dest.path()).await?;
    assert_eq!(
        outcome,
        Outcome::Unchanged {
            revision: format!("main@sha1:{sha}")
        }
    );
    assert_eq!(std::fs::read_dir(dest.path())?.count(), 0);

    let next = repo.commit_files("main", &[("f", "y")], "y")?;
    let commit = checked_out(run(server.url("fleet"), options, dest.path()).await?);
    assert_eq!(commit.revision, format!("main@sha1:{next}"));

    let url = server.url("fleet");
    let refs = tokio::task::spawn_blocking(move || {
        ls_remote(&url, &Auth::default(), Duration::from_secs(30))
    })
    .await??;
    assert!(
        refs.iter()
            .any(|r| r.name == "refs/heads/main" && r.commit() == next),
        "{refs:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_never_answers_times_out() -> anyhow::Result<()> {
    let silent = SilentServer::start().await?;
    let dest = tempfile::tempdir()?;
    let mut options = with_ref(Reference::branch("main"));
    options.timeout = Duration::from_secs(2);
    let err = run(silent.url(), options, dest.path())
        .await
        .expect_err("timeout");
    assert!(matches!(err, GitError::Timeout { .. }), "{err:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_symlink_pointing_outside_is_refused_and_one_inside_is_kept() -> anyhow::Result<()> {
    let (server, repo) = server_with_repo(GitAuth::None).await?;
    repo.commit_files("main", &[("dir/file", "x")], "x")?;
    repo.commit_symlink("main", "inside", "dir/file")?;
    let dest = tempfile::tempdir()?;
    checked_out(
        run(
            server.url("fleet"),
            with_ref(Reference::branch("main")),
            dest.path(),
        )
        .await?,
    );
    assert_eq!(
        std::fs::read_link(dest.path().join("inside"))?,
        Path::new("dir/file")
    );

    repo.commit_symlink("main", "escape", "../../etc/passwd")?;
    let dest = tempfile::tempdir()?;
    let err = run(
        server.url("fleet"),
        with_ref(Reference::branch("main")),
        dest.path(),
    )
    .await
    .expect_err("escape");
    assert!(matches!(err, GitError::SymlinkEscape { .. }), "{err}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_checkout_over_the_size_limit_is_refused() -> anyhow::Result<()> {
    let (server, repo) = server_with_repo(GitAuth::None).await?;
    let big = "x".repeat(4096);
    repo.commit_files("main", &[("big", big.as_str())], "big")?;
    let dest = tempfile::tempdir()?;
    let mut options = with_ref(Reference::branch("main"));
    options.limits.max_checkout_bytes = 1024;
    let err = run(server.url("fleet"), options, dest.path())
        .await
        .expect_err("too big");
    assert!(
        matches!(err, GitError::SizeLimitExceeded { limit: 1024 }),
        "{err}"
    );
    Ok(())
}
