//! GitRepository `spec.proxySecretRef`: the controller in-process against the local control
//! plane, fetching from the loopback git server through the testkit proxy (HTTP and SOCKS5,
//! both requiring a login). A Secret without `address` and a wrong proxy password are clear
//! Ready=False conditions, and the proxy password reaches neither status, events nor logs.

// The shared helpers re-export more than this file uses.
#[allow(unused_imports)]
mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use common::*;
use driftless_api::source::GitRepository;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use serde_json::json;
use testkit::TestNamespace;
use testkit::git_server::{GitAuth, GitServer};
use testkit::proxy::{Protocol, ProxyServer, Tunnel};

const PROXY_USER: &str = "mandalorian";
const PROXY_PASSWORD: &str = "grogu-proxy-s3cret";
const WRONG_PASSWORD: &str = "not-grogu-wr0ng";

/// Every log line of this test binary, at debug level.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn global() -> Logs {
        static LOGS: OnceLock<Logs> = OnceLock::new();
        LOGS.get_or_init(|| {
            let logs = Logs::default();
            let writer = logs.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::DEBUG)
                .with_writer(move || writer.clone())
                .finish();
            let _ = tracing::subscriber::set_global_default(subscriber);
            logs
        })
        .clone()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log lock")).into_owned()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repository_is_fetched_through_its_proxy_and_bad_proxy_secrets_are_clear_failures()
-> anyhow::Result<()> {
    let logs = Logs::global();
    let cluster = testkit::cluster().await?;
    install_crd(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-proxy").await?;
    let git = GitServer::start(GitAuth::None).await?;
    let commit =
        git.create_repo("fleet")?
            .commit_files("main", &[("app.yaml", "app: 1\n")], "initial")?;
    let url = git.url("fleet");
    let git_target = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let proxy = ProxyServer::start(Some((PROXY_USER, PROXY_PASSWORD))).await?;

    let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), ns.name());
    for s in [
        secret(
            "http-proxy",
            &[
                ("address", &proxy.http_url()),
                ("username", PROXY_USER),
                ("password", PROXY_PASSWORD),
            ],
        ),
        secret(
            "socks-proxy",
            &[
                ("address", &proxy.socks5_url()),
                ("username", PROXY_USER),
                ("password", PROXY_PASSWORD),
            ],
        ),
        secret(
            "no-address",
            &[("username", PROXY_USER), ("password", PROXY_PASSWORD)],
        ),
        secret(
            "wrong-password",
            &[
                ("address", &proxy.http_url()),
                ("username", PROXY_USER),
                ("password", WRONG_PASSWORD),
            ],
        ),
    ] {
        secrets.create(&PostParams::default(), &s).await?;
    }

    let controller = RunningController::start(&cluster, ns.name()).await?;
    let api: Api<GitRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    for name in ["http-proxy", "socks-proxy", "no-address", "wrong-password"] {
        let spec = json!({"ref": {"branch": "main"}, "proxySecretRef": {"name": name}});
        create(&api, &git_repository(name, &controller.shard, &url, spec)?).await?;
    }

    for (name, protocol) in [
        ("http-proxy", Protocol::Forward),
        ("socks-proxy", Protocol::Socks5),
    ] {
        let ready = wait_ready(&api, name, "True", "Succeeded").await?;
        let artifact = ready
            .status
            .as_ref()
            .and_then(|s| s.artifact.as_ref())
            .expect("artifact");
        assert_eq!(artifact.revision, format!("main@sha1:{commit}"), "{name}");
        let tunnel = Tunnel {
            protocol,
            target: git_target.clone(),
        };
        assert!(
            proxy.tunnels().contains(&tunnel),
            "{name} did not go through the proxy: {:?}",
            proxy.tunnels()
        );
    }

    let failed = wait_failing(&api, "no-address", "AuthenticationFailed").await?;
    let message = &condition(&failed, "Ready").expect("Ready").message;
    assert!(
        message.contains("no-address") && message.contains("key 'address' is missing"),
        "{message}"
    );
    let fetch_failed = condition(&failed, "FetchFailed").expect("FetchFailed");
    assert_eq!(fetch_failed.status, "True");

    let failed = wait_failing(&api, "wrong-password", "AuthenticationFailed").await?;
    let message = &condition(&failed, "Ready").expect("Ready").message;
    assert!(
        message.contains("proxy") && message.contains(&proxy.http_url()),
        "{message}"
    );
    assert!(proxy.refused() > 0);
    for name in ["no-address", "wrong-password"] {
        let repo = api.get(name).await?;
        assert!(
            repo.status
                .as_ref()
                .and_then(|s| s.artifact.as_ref())
                .is_none(),
            "{name} has an artifact"
        );
    }
    for leaked in [PROXY_PASSWORD, WRONG_PASSWORD] {
        assert_secret_not_leaked(
            &cluster.client,
            &api,
            ns.name(),
            "AuthenticationFailed",
            leaked,
        )
        .await?;
        assert!(!logs.text().contains(leaked), "a proxy password was logged");
    }
    assert!(
        logs.text().contains("wrong-password"),
        "the log capture saw the controller's failure logs"
    );

    delete_all_repositories(&api).await?;
    controller.stop().await
}
