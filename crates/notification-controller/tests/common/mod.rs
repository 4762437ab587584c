//! Helpers for the integration tests: the CRDs installed idempotently; the controller run
//! in-process on loopback ports of its own and its own Receiver shard; a loopback HTTP sink that
//! records what providers send; a plain HTTP/1.1 client; and a log capture to prove no secret
//! reaches the logs.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, PostParams};
use serde_json::json;
use testkit::TestCluster;

/// Label that shards Receivers to one test's controller.
pub const SHARD_LABEL: &str = "driftless.test/shard";

/// How long any wait on the cluster may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(60);

/// Installs the notification CRDs and the kinds the tests trigger (shared, never deleted).
pub async fn install_crds(client: &kube::Client) -> anyhow::Result<()> {
    let wanted = [
        "alerts.notification.toolkit.fluxcd.io",
        "providers.notification.toolkit.fluxcd.io",
        "receivers.notification.toolkit.fluxcd.io",
        "gitrepositories.source.toolkit.fluxcd.io",
        "kustomizations.kustomize.toolkit.fluxcd.io",
    ];
    for crd in driftless_api::crds()
        .into_iter()
        .filter(|c| wanted.contains(&c.metadata.name.as_deref().unwrap_or_default()))
    {
        testkit::install_crd(client, &crd, "driftless-notification-controller-tests").await?;
    }
    Ok(())
}

/// The Flux objects the tests use, by kind.
pub fn flux_api(client: &kube::Client, ns: &str, kind: &str) -> Api<DynamicObject> {
    let (group, version) = match kind {
        "Kustomization" => ("kustomize.toolkit.fluxcd.io", "v1"),
        _ => ("source.toolkit.fluxcd.io", "v1"),
    };
    Api::namespaced_with(
        client.clone(),
        ns,
        &ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind)),
    )
}

/// A suspended GitRepository nobody reconciles (a target for Receivers and events).
pub async fn create_inert_git_repository(
    client: &kube::Client,
    ns: &str,
    name: &str,
) -> anyhow::Result<()> {
    let repo: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": name},
        "spec": {"url": "https://example.invalid/fleet", "interval": "1h", "suspend": true},
    }))?;
    flux_api(client, ns, "GitRepository")
        .create(&PostParams::default(), &repo)
        .await?;
    Ok(())
}

/// A free loopback port (bound, read, released).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: driftless_notification_controller::Args,
}

/// A notification-controller running on a tokio task for one test.
pub struct RunningController {
    /// The shard label value this test's Receivers carry.
    pub shard: String,
    /// `http://127.0.0.1:<port>` of the event server.
    pub events_url: String,
    /// `http://127.0.0.1:<port>` of the webhook server.
    pub receiver_url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), driftless_notification_controller::RunError>>>,
}

impl RunningController {
    /// Starts a controller that reconciles Receivers labelled `SHARD_LABEL=<shard>` and waits
    /// until both servers accept connections.
    pub async fn start(cluster: &TestCluster, shard: &str, extra: &[&str]) -> anyhow::Result<Self> {
        let (events, receivers) = (free_port()?, free_port()?);
        let argv = [
            "notification-controller".to_owned(),
            "--metrics-addr=0".to_owned(),
            "--health-addr=0".to_owned(),
            format!("--events-addr=127.0.0.1:{events}"),
            format!("--receiverAddr=127.0.0.1:{receivers}"),
            format!("--watch-label-selector={SHARD_LABEL}={shard}"),
            "--min-retry-delay=100ms".to_owned(),
            "--max-retry-delay=1s".to_owned(),
        ]
        .into_iter()
        .chain(extra.iter().map(|a| (*a).to_owned()));
        let args = Cli::try_parse_from(argv)?.args;
        let config = cluster.plane.config().await?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(driftless_notification_controller::run(
            args,
            config,
            async move {
                let _ = rx.await;
            },
        ));
        for port in [events, receivers] {
            testkit::wait::until(WAIT, &format!("port {port} to accept"), || async move {
                Ok(tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .ok()
                    .map(|_| ()))
            })
            .await
            .map_err(anyhow::Error::msg)?;
        }
        Ok(Self {
            shard: shard.to_owned(),
            events_url: format!("http://127.0.0.1:{events}"),
            receiver_url: format!("http://127.0.0.1:{receivers}"),
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// Signals shutdown and waits for the controller to stop.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(WAIT, task)
                .await
                .context("controller stops on the shutdown signal")???;
        }
        Ok(())
    }
}

/// One HTTP response: status and body.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// A plain HTTP/1.1 request to a loopback `url` with `headers` and `body`.
pub async fn http(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> anyhow::Result<Response> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").context("http URL")?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    let mut head = format!(
        "{method} /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    // A server may answer (413) before reading a large body; a reset while writing is fine.
    let _ = stream.write_all(body).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("response has a header")?;
    let status: u16 = String::from_utf8_lossy(&response[..split])
        .split_whitespace()
        .nth(1)
        .context("status line")?
        .parse()?;
    Ok(Response {
        status,
        body: response[split + 4..].to_vec(),
    })
}

/// One request the sink received.
#[derive(Clone, Debug)]
pub struct Received {
    /// Request path.
    pub path: String,
    /// Headers, names lower-cased.
    pub headers: BTreeMap<String, String>,
    /// Body.
    pub body: Vec<u8>,
}

/// A loopback HTTP server that records every request and answers 200.
pub struct Sink {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl Sink {
    /// Starts the sink.
    pub async fn start() -> anyhow::Result<Self> {
        use axum::body::Bytes;
        use axum::http::{HeaderMap, Uri};
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let store = Arc::clone(&received);
        let router =
            axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
                let store = Arc::clone(&store);
                async move {
                    let headers = headers
                        .iter()
                        .map(|(k, v)| {
                            (
                                k.as_str().to_owned(),
                                v.to_str().unwrap_or_default().to_owned(),
                            )
                        })
                        .collect();
                    store.lock().expect("sink lock").push(Received {
                        path: uri.path().to_owned(),
                        headers,
                        body: body.to_vec(),
                    });
                    "ok"
                }
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Self {
            url,
            received,
            _shutdown: tx,
        })
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("sink lock").clone()
    }

    /// Waits until at least `n` requests arrived, and returns them.
    pub async fn wait_for(&self, n: usize) -> anyhow::Result<Vec<Received>> {
        testkit::wait::until(WAIT, &format!("{n} request(s) at the sink"), || async {
            let got = self.received();
            if got.len() >= n {
                Ok(Some(got))
            } else {
                Err(format!("{} received", got.len()))
            }
        })
        .await
        .map_err(anyhow::Error::msg)
    }
}

/// Creates an Opaque Secret `name` with `data` in `namespace`.
pub async fn create_secret(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    data: &[(&str, &str)],
) -> anyhow::Result<()> {
    let string_data: BTreeMap<&str, &str> = data.iter().copied().collect();
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": name},
        "stringData": string_data,
    }))?;
    Api::<Secret>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &secret)
        .await?;
    Ok(())
}

/// Deletes every object of `api` and waits until they are gone (their finalizers need their
/// controller running).
pub async fn delete_all<K>(api: &Api<K>) -> anyhow::Result<()>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned,
{
    api.delete_collection(&DeleteParams::default(), &Default::default())
        .await?;
    testkit::wait::until(WAIT, "every object finalized", || async {
        let left = api
            .list(&Default::default())
            .await
            .map_err(|e| e.to_string())?;
        Ok(left.items.is_empty().then_some(()))
    })
    .await
    .map_err(anyhow::Error::msg)
}

/// Deletes every Receiver in `namespace`.
pub async fn delete_receivers(client: &kube::Client, namespace: &str) -> anyhow::Result<()> {
    let api: Api<driftless_api::notification::Receiver> =
        Api::namespaced(client.clone(), namespace);
    delete_all(&api).await
}

/// A writer collecting every log line of this test binary.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// The process-wide capture, installed as the global subscriber on first use.
    pub fn global() -> Self {
        static CAPTURE: OnceLock<LogCapture> = OnceLock::new();
        CAPTURE
            .get_or_init(|| {
                let capture = LogCapture::default();
                let writer = capture.clone();
                let subscriber = tracing_subscriber::fmt()
                    .with_max_level(tracing::Level::DEBUG)
                    .with_writer(move || writer.clone())
                    .finish();
                let _ = tracing::subscriber::set_global_default(subscriber);
                capture
            })
            .clone()
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log lock")).into_owned()
    }
}

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// HMAC-SHA256 of `body` keyed with `key`, hex.
pub fn hmac_sha256(key: &str, body: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).expect("any key");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}
