//! Checkout, ls-remote and push through the loopback test proxy (`spec.proxySecretRef`):
//! HTTP remotes through an HTTP proxy and through SOCKS5, SSH remotes tunnelled through
//! HTTP CONNECT and SOCKS5, and the failures a user must be able to tell apart.
#![allow(clippy::panic)]

use std::time::Duration;

use driftless_git::proxy::Proxy;
use driftless_git::{
    Auth, CheckoutOptions, CloneOptions, CommitMessage, FileChange, GitError, Outcome, PushOptions,
    PushTarget, Reference, Signature, checkout, clone_branch, ls_remote, push,
};
use testkit::git_server::{GitAuth, GitServer};
use testkit::proxy::{Protocol, ProxyServer, Tunnel};
use testkit::ssh_server::SshServer;

const PROXY_PASSWORD: &str = "grogu-s3cret";

fn proxied(address: String, credentials: Option<(&str, &str)>) -> Auth {
    Auth {
        proxy: Some(Proxy {
            address,
            username: credentials.map(|(u, _)| u.to_string()),
            password: credentials.map(|(_, p)| p.to_string()),
        }),
        ..Auth::default()
    }
}

/// Check out `main` of `url`; the blocking call runs beside the loopback servers' runtime.
fn checkout_main(url: &str, auth: Auth) -> Result<Outcome, GitError> {
    let dest = tempfile::tempdir().expect("tempdir");
    let options = CheckoutOptions {
        reference: Reference::branch("main"),
        auth,
        timeout: Duration::from_secs(20),
        ..CheckoutOptions::default()
    };
    tokio::task::block_in_place(|| checkout(url, dest.path(), &options))
}

fn commit_id(outcome: Outcome) -> String {
    match outcome {
        Outcome::CheckedOut { commit, .. } => commit.id,
        Outcome::Unchanged { revision } => panic!("unexpected no-op at {revision}"),
    }
}

async fn served() -> anyhow::Result<(GitServer, String)> {
    let server = GitServer::start(GitAuth::None).await?;
    let repo = server.create_repo("fleet")?;
    let head = repo.commit_files("main", &[("app.yaml", "v: 1\n")], "base")?;
    Ok((server, head))
}

fn target_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_http_remote_is_fetched_through_an_http_proxy_with_basic_credentials()
-> anyhow::Result<()> {
    let (server, head) = served().await?;
    let proxy = ProxyServer::start(Some(("mandalorian", PROXY_PASSWORD))).await?;
    let url = server.url("fleet");
    let auth = proxied(proxy.http_url(), Some(("mandalorian", PROXY_PASSWORD)));
    assert_eq!(commit_id(checkout_main(&url, auth.clone())?), head);
    let tunnels = proxy.tunnels();
    assert!(
        tunnels.contains(&Tunnel {
            protocol: Protocol::Forward,
            target: target_of(&url),
        }),
        "{tunnels:?}"
    );
    let used = tunnels.len();
    let refs = tokio::task::block_in_place(|| ls_remote(&url, &auth, Duration::from_secs(20)))?;
    assert!(refs.iter().any(|r| r.name == "refs/heads/main"));
    assert!(
        proxy.tunnels().len() > used,
        "ls-remote went around the proxy"
    );
    assert_eq!(proxy.refused(), 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_http_remote_is_fetched_through_a_socks5_proxy_with_a_login() -> anyhow::Result<()> {
    let (server, head) = served().await?;
    let proxy = ProxyServer::start(Some(("mandalorian", PROXY_PASSWORD))).await?;
    let url = server.url("fleet");
    let auth = proxied(proxy.socks5_url(), Some(("mandalorian", PROXY_PASSWORD)));
    assert_eq!(commit_id(checkout_main(&url, auth)?), head);
    assert!(
        proxy.tunnels().contains(&Tunnel {
            protocol: Protocol::Socks5,
            target: target_of(&url),
        }),
        "{:?}",
        proxy.tunnels()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_goes_through_the_proxy_like_the_clone() -> anyhow::Result<()> {
    let (server, _) = served().await?;
    server.allow_push("fleet")?;
    let proxy = ProxyServer::start(None).await?;
    let auth = proxied(proxy.http_url(), None);
    let dir = tempfile::tempdir()?;
    let options = CloneOptions {
        auth,
        timeout: Duration::from_secs(20),
        ..CloneOptions::default()
    };
    let url = server.url("fleet");
    let mut clone =
        tokio::task::block_in_place(|| clone_branch(&url, "main", dir.path(), &options))?;
    let who = Signature {
        name: "bot".into(),
        email: "bot@example.invalid".into(),
        time: 1_700_000_000,
    };
    let message = CommitMessage {
        author: who.clone(),
        committer: who,
        message: "through the proxy".into(),
    };
    let change = FileChange::Write {
        path: "app.yaml".into(),
        contents: b"v: 2\n".to_vec(),
    };
    let commit = clone.commit(&[change], &message)?.expect("a change");
    let before = proxy.tunnels().len();
    tokio::task::block_in_place(|| {
        push(
            &clone,
            &[PushTarget::branch("main")],
            &PushOptions::default(),
        )
    })?;
    assert!(
        proxy.tunnels().len() > before,
        "the push went around the proxy"
    );
    let tip = server.git_in_repo("fleet", &["rev-parse", "main"])?;
    assert_eq!(tip.trim(), commit.id);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_proxy_credentials_are_an_authentication_error_that_never_shows_them()
-> anyhow::Result<()> {
    let (server, _) = served().await?;
    let proxy = ProxyServer::start(Some(("mandalorian", "the-right-one"))).await?;
    let url = server.url("fleet");
    for address in [proxy.http_url(), proxy.socks5_url()] {
        let auth = proxied(address.clone(), Some(("mandalorian", PROXY_PASSWORD)));
        let err = checkout_main(&url, auth).expect_err("wrong proxy password");
        let text = err.to_string();
        assert!(
            matches!(err, GitError::Authentication { .. }),
            "{address}: {err:?}"
        );
        assert!(text.contains("proxy"), "{address}: {text}");
        assert!(!text.contains(PROXY_PASSWORD), "{address}: {text}");
        assert!(!format!("{err:?}").contains(PROXY_PASSWORD), "{address}");
    }
    assert!(proxy.tunnels().is_empty(), "{:?}", proxy.tunnels());
    assert!(proxy.refused() >= 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_proxy_is_a_clear_error_naming_it() -> anyhow::Result<()> {
    let (server, _) = served().await?;
    // Bound and dropped: nothing listens on this port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    for address in [
        format!("http://127.0.0.1:{port}"),
        format!("socks5://127.0.0.1:{port}"),
    ] {
        let err = checkout_main(&server.url("fleet"), proxied(address.clone(), None))
            .expect_err("no proxy there");
        let text = err.to_string();
        assert!(matches!(err, GitError::Remote { .. }), "{address}: {err:?}");
        assert!(
            text.contains(&format!("127.0.0.1:{port}")) && text.contains("proxy"),
            "{address}: {text}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_proxy_address_is_refused_before_connecting() {
    let auth = proxied("ftp://proxy.example".into(), None);
    let err = checkout_main("http://127.0.0.1:1/fleet.git", auth).expect_err("bad scheme");
    assert!(matches!(err, GitError::InvalidAuth { .. }), "{err:?}");
    assert!(err.to_string().contains("ftp"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ssh_remote_is_tunnelled_through_http_connect_and_socks5() -> anyhow::Result<()> {
    let Some(ssh) = SshServer::start_or_skip()? else {
        return Ok(());
    };
    let (server, head) = served().await?;
    let url = ssh.url(&server.repo_path("fleet"));
    let proxy = ProxyServer::start(Some(("mandalorian", PROXY_PASSWORD))).await?;
    let target = format!("127.0.0.1:{}", ssh.port());
    for (address, protocol) in [
        (proxy.http_url(), Protocol::Connect),
        (proxy.socks5_url(), Protocol::Socks5),
    ] {
        let mut auth = proxied(address, Some(("mandalorian", PROXY_PASSWORD)));
        auth.ssh_identity = Some(ssh.client_key().private.as_bytes().to_vec());
        auth.ssh_known_hosts = Some(ssh.known_hosts().into_bytes());
        assert_eq!(commit_id(checkout_main(&url, auth)?), head);
        assert!(
            proxy.tunnels().contains(&Tunnel {
                protocol,
                target: target.clone(),
            }),
            "{:?}",
            proxy.tunnels()
        );
    }
    // The same through a proxy that refuses the login: an authentication error.
    let strict = ProxyServer::start(Some(("mandalorian", "other"))).await?;
    let mut auth = proxied(strict.socks5_url(), Some(("mandalorian", PROXY_PASSWORD)));
    auth.ssh_identity = Some(ssh.client_key().private.as_bytes().to_vec());
    auth.ssh_known_hosts = Some(ssh.known_hosts().into_bytes());
    let err = checkout_main(&url, auth).expect_err("refused");
    assert!(matches!(err, GitError::Authentication { .. }), "{err:?}");
    assert!(!err.to_string().contains(PROXY_PASSWORD), "{err}");
    // And through a proxy that is not there: a connection error naming the proxy.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut auth = proxied(format!("http://127.0.0.1:{port}"), None);
    auth.ssh_identity = Some(ssh.client_key().private.as_bytes().to_vec());
    auth.ssh_known_hosts = Some(ssh.known_hosts().into_bytes());
    let err = checkout_main(&url, auth).expect_err("unreachable");
    assert!(matches!(err, GitError::Remote { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("proxy http://127.0.0.1:{port} unreachable")),
        "{err}"
    );
    Ok(())
}
