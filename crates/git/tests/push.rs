//! Commit and push against a real `git http-backend` on loopback; results are checked with
//! the `git` binary in the served bare repository.

use std::path::Path;
use std::time::Duration;

use driftless_git::{
    Auth, BasicAuth, Clone, CloneOptions, CommitMessage, FileChange, PushError, PushOptions,
    PushTarget, Pushed, Signature, clone_branch, push,
};
use testkit::git_server::{GitAuth, GitServer, TestRepo};

const BASE_FILES: &[(&str, &str)] = &[
    ("apps/podinfo/deploy.yaml", "image: podinfo:1.0.0\n"),
    ("apps/other/deploy.yaml", "image: other:2.0.0\n"),
    ("README.md", "fleet\n"),
];

async fn served(auth: GitAuth) -> anyhow::Result<(GitServer, TestRepo)> {
    let server = GitServer::start(auth).await?;
    let repo = server.create_repo("fleet")?;
    server.allow_push("fleet")?;
    repo.commit_files("main", BASE_FILES, "base")?;
    Ok((server, repo))
}

fn options(auth: Auth) -> CloneOptions {
    CloneOptions {
        auth,
        timeout: Duration::from_secs(30),
        ..CloneOptions::default()
    }
}

/// The git calls block; `block_in_place` keeps the loopback server's runtime serving.
fn cloned(url: String, branch: &str, auth: Auth, dest: &Path) -> Clone {
    tokio::task::block_in_place(|| clone_branch(&url, branch, dest, &options(auth))).expect("clone")
}

fn push_to(
    clone: &Clone,
    targets: Vec<PushTarget>,
    options: PushOptions,
) -> Result<Pushed, PushError> {
    tokio::task::block_in_place(|| push(clone, &targets, &options))
}

fn message(text: &str) -> CommitMessage {
    let who = Signature {
        name: "fluxcdbot".into(),
        email: "fluxcdbot@users.noreply.github.com".into(),
        time: 1_700_000_000,
    };
    CommitMessage {
        author: who.clone(),
        committer: who,
        message: text.into(),
    }
}

fn write(path: &str, contents: &str) -> FileChange {
    FileChange::Write {
        path: path.into(),
        contents: contents.as_bytes().to_vec(),
    }
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

#[tokio::test(flavor = "multi_thread")]
async fn a_pushed_commit_lands_on_the_branch_with_its_author_message_and_files()
-> anyhow::Result<()> {
    let (server, _repo) = served(GitAuth::None).await?;
    let before_other = server.git_in_repo("fleet", &["rev-parse", "main:apps/other"])?;
    let dir = tempfile::tempdir()?;
    let mut clone = cloned(server.url("fleet"), "main", Auth::default(), dir.path());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("apps/podinfo/deploy.yaml"))?,
        "image: podinfo:1.0.0\n"
    );
    let commit = clone
        .commit(
            &[
                write("apps/podinfo/deploy.yaml", "image: podinfo:1.0.1\n"),
                write("apps/new/dir/file.yaml", "new: true\n"),
                FileChange::Delete {
                    path: "README.md".into(),
                },
            ],
            &message("Update podinfo to 1.0.1\n\nbody line\n"),
        )?
        .expect("a change makes a commit");
    assert_eq!(commit.revision, format!("main@sha1:{}", commit.id));
    let pushed = push_to(
        &clone,
        vec![PushTarget::branch("main")],
        PushOptions::default(),
    );
    let pushed = pushed?;
    assert_eq!(pushed.commit, commit.id);
    assert!(pushed.refs[0].changed);

    let log = server.git_in_repo(
        "fleet",
        &["log", "-1", "--format=%H|%an|%ae|%at|%B", "main"],
    )?;
    assert_eq!(
        log.trim_end(),
        format!(
            "{}|fluxcdbot|fluxcdbot@users.noreply.github.com|1700000000|Update podinfo to 1.0.1\n\nbody line",
            commit.id
        )
    );
    let show = |rev: &str| server.git_in_repo("fleet", &["show", rev]);
    assert_eq!(
        show("main:apps/podinfo/deploy.yaml")?,
        "image: podinfo:1.0.1\n"
    );
    assert_eq!(show("main:apps/new/dir/file.yaml")?, "new: true\n");
    assert!(show("main:README.md").is_err(), "deleted file is gone");
    // The untouched directory keeps its tree id: nothing else was rewritten.
    assert_eq!(
        server.git_in_repo("fleet", &["rev-parse", "main:apps/other"])?,
        before_other
    );
    server.git_in_repo("fleet", &["fsck", "--strict", "--no-dangling"])?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn identical_contents_make_no_commit_and_the_push_sends_nothing() -> anyhow::Result<()> {
    let (server, repo) = served(GitAuth::None).await?;
    let tip = repo.rev_parse("HEAD")?;
    let dir = tempfile::tempdir()?;
    let mut clone = cloned(server.url("fleet"), "main", Auth::default(), dir.path());
    let commit = clone.commit(
        &[write("apps/podinfo/deploy.yaml", "image: podinfo:1.0.0\n")],
        &message("no-op"),
    )?;
    assert_eq!(commit, None);
    assert_eq!(clone.tip(), tip);
    let pushed = push_to(
        &clone,
        vec![PushTarget::branch("main")],
        PushOptions::default(),
    );
    assert!(!pushed?.refs[0].changed);
    assert_eq!(
        server.git_in_repo("fleet", &["rev-parse", "main"])?.trim(),
        tip
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_concurrent_push_makes_ours_fail_as_non_fast_forward_and_keeps_theirs()
-> anyhow::Result<()> {
    let (server, repo) = served(GitAuth::None).await?;
    let dir = tempfile::tempdir()?;
    let mut clone = cloned(server.url("fleet"), "main", Auth::default(), dir.path());
    let theirs = repo.commit_files("main", &[("README.md", "someone else\n")], "theirs")?;
    clone.commit(
        &[write("apps/podinfo/deploy.yaml", "image: podinfo:1.0.1\n")],
        &message("ours"),
    )?;
    let result = push_to(
        &clone,
        vec![PushTarget::branch("main")],
        PushOptions::default(),
    );
    let err = result.expect_err("the remote moved");
    assert!(matches!(err, PushError::NonFastForward { .. }), "{err:?}");
    assert!(err.remote_moved());
    let text = err.to_string();
    assert!(
        text.contains("refs/heads/main") && text.contains("non-fast-forward"),
        "{text}"
    );
    assert!(text.contains(&theirs), "{text}");
    assert_eq!(
        server.git_in_repo("fleet", &["rev-parse", "main"])?.trim(),
        theirs
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refspec_creates_a_new_branch_and_force_overwrites_a_diverged_one() -> anyhow::Result<()>
{
    let (server, repo) = served(GitAuth::None).await?;
    let base = repo.rev_parse("HEAD")?;
    repo.commit_files("auto", &[("stale.txt", "old automation\n")], "stale")?;
    let dir = tempfile::tempdir()?;
    let mut clone = cloned(server.url("fleet"), "main", Auth::default(), dir.path());
    let commit = clone
        .commit(&[write("apps/podinfo/deploy.yaml", "x\n")], &message("m"))?
        .expect("commit");

    let diverged = vec![PushTarget::from_refspec("main:refs/heads/auto", "main")?];
    let result = push_to(&clone, diverged, PushOptions::default());
    assert!(matches!(result, Err(PushError::NonFastForward { .. })));

    let targets = vec![
        PushTarget::from_refspec("+refs/heads/main:refs/heads/auto", "main")?,
        PushTarget::from_refspec("HEAD:refs/heads/review/1", "main")?,
    ];
    let pushed = push_to(&clone, targets, PushOptions::default());
    let pushed = pushed?;
    assert_eq!(pushed.refs[1].old, None, "review/1 is created");
    for branch in ["auto", "review/1"] {
        assert_eq!(
            server.git_in_repo("fleet", &["rev-parse", branch])?.trim(),
            commit.id
        );
    }
    assert_eq!(
        server.git_in_repo("fleet", &["rev-parse", "main"])?.trim(),
        base
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn pushing_with_basic_or_bearer_credentials_works_and_a_wrong_password_is_an_auth_error()
-> anyhow::Result<()> {
    let (server, _repo) = served(GitAuth::Basic {
        username: "bot".into(),
        password: "s3cret-pw".into(),
    })
    .await?;
    let dir = tempfile::tempdir()?;
    let mut clone = cloned(
        server.url("fleet"),
        "main",
        basic("bot", "s3cret-pw"),
        dir.path(),
    );
    clone.commit(&[write("a.txt", "a\n")], &message("a"))?;
    let wrong = PushOptions {
        auth: Some(basic("bot", "wrong-pw")),
        ..PushOptions::default()
    };
    let result = push_to(&clone, vec![PushTarget::branch("main")], wrong);
    let err = result.expect_err("wrong password");
    assert_eq!(err.reason(), "AuthenticationFailed", "{err}");
    let text = format!("{err} {err:?}");
    assert!(
        !text.contains("wrong-pw") && !text.contains("s3cret-pw"),
        "{text}"
    );

    let pushed = push_to(
        &clone,
        vec![PushTarget::branch("main")],
        PushOptions::default(),
    );
    pushed?;
    assert_eq!(server.git_in_repo("fleet", &["show", "main:a.txt"])?, "a\n");

    let bearer = GitServer::start(GitAuth::Bearer("tok-123".into())).await?;
    let repo = bearer.create_repo("fleet")?;
    repo.commit_files("main", BASE_FILES, "base")?;
    let token = Auth {
        bearer_token: Some("tok-123".into()),
        ..Auth::default()
    };
    let dir = tempfile::tempdir()?;
    let mut clone = cloned(bearer.url("fleet"), "main", token, dir.path());
    clone.commit(&[write("b.txt", "b\n")], &message("b"))?;
    let pushed = push_to(
        &clone,
        vec![PushTarget::branch("main")],
        PushOptions::default(),
    );
    pushed?;
    assert_eq!(bearer.git_in_repo("fleet", &["show", "main:b.txt"])?, "b\n");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_refusing_anonymous_pushes_gives_a_clear_error() -> anyhow::Result<()> {
    let server = GitServer::start(GitAuth::None).await?;
    let repo = server.create_repo("fleet")?;
    repo.commit_files("main", BASE_FILES, "base")?;
    let dir = tempfile::tempdir()?;
    let mut clone = cloned(server.url("fleet"), "main", Auth::default(), dir.path());
    clone.commit(&[write("a.txt", "a\n")], &message("a"))?;
    let result = push_to(
        &clone,
        vec![PushTarget::branch("main")],
        PushOptions::default(),
    );
    let err = result.expect_err("receive-pack is off");
    let text = err.to_string();
    assert!(
        text.contains("pushing to") && text.contains(&server.url("fleet")),
        "{text}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ref_moved_during_the_request_is_rejected_by_the_server_and_reported_as_remote_moved()
-> anyhow::Result<()> {
    let (server, _repo) = served(GitAuth::None).await?;
    server.race_first_push("fleet", "main")?;
    let dir = tempfile::tempdir()?;
    let mut clone = cloned(server.url("fleet"), "main", Auth::default(), dir.path());
    clone.commit(&[write("a.txt", "a\n")], &message("a"))?;
    let err = push_to(
        &clone,
        vec![PushTarget::branch("main")],
        PushOptions::default(),
    )
    .expect_err("the server's compare-and-swap fails");
    assert!(matches!(err, PushError::Rejected { .. }), "{err:?}");
    assert!(err.remote_moved(), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "'{}' rejected the update of 'refs/heads/main': failed to update ref",
            server.url("fleet")
        )
    );
    let log = server.git_in_repo("fleet", &["log", "-1", "--format=%an", "main"])?;
    assert_eq!(log.trim(), "racer", "the concurrent commit stays");
    Ok(())
}
