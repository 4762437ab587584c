//! `recurseSubmodules` against the loopback `git http-backend`: submodule files land in the
//! checkout (nested ones too, relative URLs resolved), never a `.git`; the revision stays
//! the parent's; unreachable or unacceptable submodules are clear errors; submodules use the
//! parent's credentials on its host and go through its proxy.
#![allow(clippy::panic)]

use std::path::Path;
use std::time::Duration;

use driftless_git::proxy::Proxy;
use driftless_git::{
    Auth, BasicAuth, CheckoutOptions, Commit, GitError, Outcome, Reference, checkout,
};
use testkit::git_server::{GitAuth, GitServer};
use testkit::proxy::{Protocol, ProxyServer};

fn run(url: &str, dest: &Path, auth: Auth, recurse: bool) -> Result<Outcome, GitError> {
    let options = CheckoutOptions {
        reference: Reference::branch("main"),
        auth,
        timeout: Duration::from_secs(30),
        recurse_submodules: recurse,
        ..CheckoutOptions::default()
    };
    tokio::task::block_in_place(|| checkout(url, dest, &options))
}

fn checked_out(outcome: Outcome) -> Commit {
    match outcome {
        Outcome::CheckedOut { commit, .. } => commit,
        Outcome::Unchanged { revision } => panic!("unexpected no-op at {revision}"),
    }
}

fn read(dest: &Path, path: &str) -> String {
    std::fs::read_to_string(dest.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every path under `root` named `.git`.
fn git_dirs(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable") {
            let path = entry.expect("entry").path();
            if path.file_name().is_some_and(|n| n == ".git") {
                found.push(path.display().to_string());
            }
            if path.is_dir() {
                stack.push(path);
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn nested_submodules_are_checked_out_at_their_recorded_commits_without_git_metadata()
-> anyhow::Result<()> {
    let server = GitServer::start(GitAuth::None).await?;
    let deep = server.create_repo("deep")?;
    let deep_v1 = deep.commit_files("main", &[("deep.yaml", "deep: 1\n")], "deep 1")?;
    // A later commit the gitlink does not point at: the checkout must not take it.
    deep.commit_files("main", &[("deep.yaml", "deep: 2\n")], "deep 2")?;
    let lib = server.create_repo("lib")?;
    lib.commit_files("main", &[("lib.yaml", "lib: 1\n")], "lib")?;
    let lib_head = lib.commit_submodule("main", "vendor/deep", "../deep.git", &deep_v1)?;
    let parent = server.create_repo("parent")?;
    parent.commit_files("main", &[("app.yaml", "app: 1\n")], "app")?;
    let parent_head = parent.commit_submodule("main", "libs/lib", &server.url("lib"), &lib_head)?;

    let dest = tempfile::tempdir()?;
    let commit = checked_out(run(
        &server.url("parent"),
        dest.path(),
        Auth::default(),
        true,
    )?);
    assert_eq!(commit.revision, format!("main@sha1:{parent_head}"));
    assert_eq!(read(dest.path(), "app.yaml"), "app: 1\n");
    assert_eq!(read(dest.path(), "libs/lib/lib.yaml"), "lib: 1\n");
    assert_eq!(
        read(dest.path(), "libs/lib/vendor/deep/deep.yaml"),
        "deep: 1\n"
    );
    assert!(
        git_dirs(dest.path()).is_empty(),
        "{:?}",
        git_dirs(dest.path())
    );

    // Without recurseSubmodules the gitlink stays an empty directory.
    let plain = tempfile::tempdir()?;
    run(&server.url("parent"), plain.path(), Auth::default(), false)?;
    assert_eq!(std::fs::read_dir(plain.path().join("libs/lib"))?.count(), 0);

    // A bumped gitlink is a new parent commit whose checkout has the new files.
    let lib_v2 = lib.commit_files("main", &[("lib.yaml", "lib: 2\n")], "lib 2")?;
    let bumped = parent.commit_submodule("main", "libs/lib", &server.url("lib"), &lib_v2)?;
    let again = tempfile::tempdir()?;
    let commit = checked_out(run(
        &server.url("parent"),
        again.path(),
        Auth::default(),
        true,
    )?);
    assert_eq!(commit.id, bumped);
    assert_eq!(read(again.path(), "libs/lib/lib.yaml"), "lib: 2\n");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_recorded_commit_is_fetched_by_id_even_when_no_ref_points_at_it() -> anyhow::Result<()>
{
    let server = GitServer::start(GitAuth::None).await?;
    let lib = server.create_repo("lib")?;
    lib.commit_files("main", &[("lib.yaml", "main\n")], "main")?;
    // A commit only a since-deleted ref ever pointed at: listing branches and tags cannot
    // find it, so this passes only through the pinned (by id) fetch.
    let orphan = lib.commit_files("scratch", &[("lib.yaml", "orphan\n")], "orphan")?;
    server.git_in_repo("lib", &["update-ref", "-d", "refs/heads/scratch"])?;
    let parent = server.create_repo("parent")?;
    parent.commit_files("main", &[("app.yaml", "app\n")], "app")?;
    parent.commit_submodule("main", "lib", "../lib.git", &orphan)?;
    let dest = tempfile::tempdir()?;
    run(&server.url("parent"), dest.path(), Auth::default(), true)?;
    assert_eq!(read(dest.path(), "lib/lib.yaml"), "orphan\n");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_or_non_http_submodule_is_an_error_naming_its_path() -> anyhow::Result<()> {
    let server = GitServer::start(GitAuth::None).await?;
    let lib = server.create_repo("lib")?;
    let lib_head = lib.commit_files("main", &[("lib.yaml", "lib\n")], "lib")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let cases = [
        (
            "gone",
            format!("http://127.0.0.1:{port}/lib.git"),
            "fetching",
        ),
        (
            "local",
            "file:///etc".to_string(),
            "scheme must be http, https or ssh",
        ),
        (
            "scp",
            "git@github.com:org/lib.git".to_string(),
            "must start with",
        ),
    ];
    for (name, url, expected) in cases {
        let parent = server.create_repo(name)?;
        parent.commit_files("main", &[("app.yaml", "app\n")], "app")?;
        parent.commit_submodule("main", "libs/lib", &url, &lib_head)?;
        let dest = tempfile::tempdir()?;
        let err = run(&server.url(name), dest.path(), Auth::default(), true)
            .expect_err("the submodule cannot be fetched");
        let text = err.to_string();
        assert!(matches!(err, GitError::Submodule { .. }), "{name}: {err:?}");
        assert!(
            text.starts_with("submodule 'libs/lib': ") && text.contains(expected),
            "{name}: {text}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn submodules_nested_past_the_depth_bound_are_refused() -> anyhow::Result<()> {
    let server = GitServer::start(GitAuth::None).await?;
    let mut below = server
        .create_repo("r0")?
        .commit_files("main", &[("leaf", "x\n")], "leaf")?;
    for level in 1..=10 {
        let repo = server.create_repo(&format!("r{level}"))?;
        let sub = format!("../r{}.git", level - 1);
        below = repo.commit_submodule("main", "sub", &sub, &below)?;
    }
    let dest = tempfile::tempdir()?;
    let err = run(&server.url("r10"), dest.path(), Auth::default(), true).expect_err("too deep");
    let chain = format!("{err}");
    assert!(chain.contains("nest deeper than"), "{chain}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn submodules_use_the_parent_credentials_on_its_host_and_its_proxy() -> anyhow::Result<()> {
    let server = GitServer::start(GitAuth::Basic {
        username: "bot".into(),
        password: "pw-123".into(),
    })
    .await?;
    let lib = server.create_repo("lib")?;
    let lib_head = lib.commit_files("main", &[("lib.yaml", "lib\n")], "lib")?;
    let parent = server.create_repo("parent")?;
    parent.commit_files("main", &[("app.yaml", "app\n")], "app")?;
    parent.commit_submodule("main", "libs/lib", "../lib.git", &lib_head)?;
    // The submodule of `other` lives on a second server: no credentials may go there.
    let elsewhere = GitServer::start(GitAuth::Basic {
        username: "bot".into(),
        password: "pw-123".into(),
    })
    .await?;
    let far = elsewhere.create_repo("far")?;
    let far_head = far.commit_files("main", &[("far.yaml", "far\n")], "far")?;
    let other = server.create_repo("other")?;
    other.commit_files("main", &[("app.yaml", "app\n")], "app")?;
    other.commit_submodule("main", "far", &elsewhere.url("far"), &far_head)?;

    let proxy = ProxyServer::start(None).await?;
    let auth = Auth {
        basic: Some(BasicAuth {
            username: "bot".into(),
            password: "pw-123".into(),
        }),
        proxy: Some(Proxy {
            address: proxy.http_url(),
            ..Proxy::default()
        }),
        ..Auth::default()
    };
    let dest = tempfile::tempdir()?;
    run(&server.url("parent"), dest.path(), auth.clone(), true)?;
    assert_eq!(read(dest.path(), "libs/lib/lib.yaml"), "lib\n");
    let forwarded = proxy
        .tunnels()
        .iter()
        .filter(|t| t.protocol == Protocol::Forward)
        .count();
    // ls-refs and fetch for the parent, and again for the submodule.
    assert!(forwarded >= 4, "{:?}", proxy.tunnels());

    let dest = tempfile::tempdir()?;
    let err = run(&server.url("other"), dest.path(), auth, true).expect_err("no credentials");
    assert!(matches!(err, GitError::Submodule { .. }), "{err:?}");
    assert_eq!(err.reason(), "AuthenticationFailed", "{err}");
    Ok(())
}
