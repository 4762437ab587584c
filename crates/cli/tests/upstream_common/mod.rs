//! Helpers of the tests that run the upstream `flux` CLI (v2.9.5, built from its Go module by
//! testkit) against driftless controllers: the binary with a home of its own, flux's table rows,
//! every Flux CRD installed, and the controllers the source/kustomize test fixtures do not start
//! (helm, notification, image-reflector, image-automation) run in-process on one label shard.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use testkit::TestCluster;

/// Label that shards objects to one test's controllers (the one every fixture uses).
pub const SHARD_LABEL: &str = "driftless.test/shard";

/// How long a controller gets to stop after its shutdown signal.
const STOP: Duration = Duration::from_secs(90);

/// The upstream `flux` binary (built once, cached, from the module pinned in tools.toml),
/// pointed at the test cluster and given a home of its own.
pub struct Flux {
    bin: PathBuf,
    kubeconfig: PathBuf,
    home: tempfile::TempDir,
}

impl Flux {
    pub fn new(kubeconfig: PathBuf) -> Self {
        let tool = testkit::gotools::pinned_tool("flux").expect("flux is pinned in tools.toml");
        let built = tool
            .ensure(&testkit::Cache::from_env())
            .expect("the upstream flux CLI builds");
        Self {
            bin: built.path("flux"),
            kubeconfig,
            home: tempfile::tempdir().expect("home"),
        }
    }

    /// Runs `flux <line>` (split on whitespace): whether it succeeded, stdout, stderr.
    pub async fn run(&self, line: &str) -> (bool, String, String) {
        self.run_args(&line.split_whitespace().collect::<Vec<_>>())
            .await
    }

    /// Runs `flux` with `args` as given (for arguments holding spaces).
    pub async fn run_args(&self, args: &[&str]) -> (bool, String, String) {
        let output = tokio::process::Command::new(&self.bin)
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.home.path())
            .env_remove("FLUX_SYSTEM_NAMESPACE")
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .expect("the flux binary runs");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Runs `flux <line>`, asserts that it succeeded and returns (stdout, stderr).
    pub async fn ok(&self, line: &str) -> (String, String) {
        let (success, out, err) = self.run(line).await;
        assert!(
            success,
            "flux {line} failed\nstdout:\n{out}\nstderr:\n{err}"
        );
        (out, err)
    }

    /// [`Flux::ok`] for arguments holding spaces.
    pub async fn ok_args(&self, args: &[&str]) -> (String, String) {
        let (success, out, err) = self.run_args(args).await;
        assert!(
            success,
            "flux {args:?} failed\nstdout:\n{out}\nstderr:\n{err}"
        );
        (out, err)
    }
}

/// The cells of the table row whose cells include all of `cells`, trimmed (flux's table writer
/// pads every cell and ends each row with a tab).
pub fn row_with<'a>(table: &'a str, cells: &[&str]) -> Option<Vec<&'a str>> {
    table
        .lines()
        .map(|line| {
            line.trim_end_matches([' ', '\t'])
                .split('\t')
                .map(str::trim)
                .collect::<Vec<_>>()
        })
        .find(|row| cells.iter().all(|c| row.contains(c)))
}

/// [`row_with`], failing the test with the table when no row matches.
pub fn row<'a>(table: &'a str, cells: &[&str]) -> Vec<&'a str> {
    let found = row_with(table, cells);
    assert!(found.is_some(), "no row with {cells:?} in\n{table}");
    found.expect("a row, as asserted")
}

/// The rows of `flux events` output whose REASON, OBJECT and MESSAGE match (the message by
/// substring).
pub fn has_event(table: &str, reason: &str, object: &str, message: &str) -> bool {
    table.lines().any(|line| {
        let row: Vec<&str> = line.split('\t').map(str::trim).collect();
        row.get(2) == Some(&reason)
            && row.get(3) == Some(&object)
            && row.get(4).is_some_and(|m| m.contains(message))
    })
}

/// Installs every driftless CRD (shared, never deleted).
pub async fn install_all_crds(client: &kube::Client) -> anyhow::Result<()> {
    for crd in driftless_api::crds() {
        testkit::install_crd(client, &crd, "driftless-cli-upstream-tests").await?;
    }
    Ok(())
}

/// A controller running on a tokio task for one test.
pub struct Running {
    name: &'static str,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Running {
    /// Spawns `run(shutdown)`, the controller's entry point given its shutdown future.
    fn spawn<F, E>(name: &'static str, run: impl FnOnce(ShutdownSignal) -> F) -> Self
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: std::error::Error + Send + Sync + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let future = run(ShutdownSignal(rx));
        let task = tokio::spawn(async move { future.await.map_err(anyhow::Error::from) });
        Self {
            name,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Signals shutdown and waits for the controller to stop.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(STOP, task)
                .await
                .with_context(|| format!("{} did not stop within {STOP:?}", self.name))???;
        }
        Ok(())
    }
}

/// The shutdown future handed to a controller: resolves when the test stops it.
pub struct ShutdownSignal(tokio::sync::oneshot::Receiver<()>);

impl ShutdownSignal {
    async fn wait(self) {
        let _ = self.0.await;
    }
}

/// The flags every in-process controller shares: no metrics or health servers, the shard's
/// selector, short retries.
fn common_flags(process: &str, shard: &str) -> Vec<String> {
    vec![
        process.to_owned(),
        "--metrics-addr=0".to_owned(),
        "--health-addr=0".to_owned(),
        format!("--watch-label-selector={SHARD_LABEL}={shard}"),
        "--min-retry-delay=200ms".to_owned(),
        "--max-retry-delay=2s".to_owned(),
    ]
}

#[derive(Debug, Parser)]
struct HelmCli {
    #[command(flatten)]
    args: driftless_helm_controller::Args,
}

/// helm-controller on `shard`.
pub async fn helm_controller(cluster: &TestCluster, shard: &str) -> anyhow::Result<Running> {
    let mut argv = common_flags("helm-controller", shard);
    argv.push("--requeue-dependency=2s".to_owned());
    let args = HelmCli::try_parse_from(argv)?.args;
    let config = cluster.plane.config().await?;
    Ok(Running::spawn("helm-controller", |stop| {
        driftless_helm_controller::run(args, config, stop.wait())
    }))
}

#[derive(Debug, Parser)]
struct NotificationCli {
    #[command(flatten)]
    args: driftless_notification_controller::Args,
}

/// notification-controller on `shard` (its Receivers), with its event and webhook servers on
/// free loopback ports: the controller and the webhook server's `http://127.0.0.1:<port>`.
pub async fn notification_controller(
    cluster: &TestCluster,
    shard: &str,
) -> anyhow::Result<(Running, String)> {
    let free_port = || -> anyhow::Result<u16> {
        Ok(std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port())
    };
    let (events, receivers) = (free_port()?, free_port()?);
    let mut argv = common_flags("notification-controller", shard);
    argv.push(format!("--events-addr=127.0.0.1:{events}"));
    argv.push(format!("--receiverAddr=127.0.0.1:{receivers}"));
    let args = NotificationCli::try_parse_from(argv)?.args;
    let config = cluster.plane.config().await?;
    let running = Running::spawn("notification-controller", |stop| {
        driftless_notification_controller::run(args, config, stop.wait())
    });
    Ok((running, format!("http://127.0.0.1:{receivers}")))
}

#[derive(Debug, Parser)]
struct ReflectorCli {
    #[command(flatten)]
    args: driftless_image_reflector_controller::Args,
}

/// image-reflector-controller on `shard`, keeping its tag database in `storage`.
pub async fn image_reflector_controller(
    cluster: &TestCluster,
    shard: &str,
    storage: &std::path::Path,
) -> anyhow::Result<Running> {
    let mut argv = common_flags("image-reflector-controller", shard);
    argv.push(format!("--storage-path={}", storage.display()));
    let args = ReflectorCli::try_parse_from(argv)?.args;
    let config = cluster.plane.config().await?;
    Ok(Running::spawn("image-reflector-controller", |stop| {
        driftless_image_reflector_controller::run(args, config, stop.wait())
    }))
}

#[derive(Debug, Parser)]
struct AutomationCli {
    #[command(flatten)]
    args: driftless_image_automation_controller::Args,
}

/// image-automation-controller on `shard`.
pub async fn image_automation_controller(
    cluster: &TestCluster,
    shard: &str,
) -> anyhow::Result<Running> {
    let argv = common_flags("image-automation-controller", shard);
    let args = AutomationCli::try_parse_from(argv)?.args;
    let config = cluster.plane.config().await?;
    Ok(Running::spawn("image-automation-controller", |stop| {
        driftless_image_automation_controller::run(args, config, stop.wait())
    }))
}

/// A plain HTTP/1.1 POST of `body` to a loopback `url`: the response's status code.
pub async fn http_post(url: &str, body: &str) -> anyhow::Result<u16> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let rest = url.strip_prefix("http://").context("an http:// URL")?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    let request = format!(
        "POST /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let head = String::from_utf8_lossy(&response);
    head.split_whitespace()
        .nth(1)
        .context("a status line")?
        .parse()
        .context("a status code")
}
