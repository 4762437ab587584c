//! `cargo xtask demo`: the main job, as far as the controllers exist today.
//!
//! It brings up the local control plane, installs driftless's CRDs, serves a
//! real Git repository on loopback, runs `driftless source-controller` as a
//! process against the cluster, and shows a GitRepository following pushes:
//! Ready with a downloadable artifact, then a new revision after a commit and
//! a `reconcile.fluxcd.io/requestedAt` request (what `flux reconcile` does).
//! Applying that artifact into the cluster is kustomize-controller's job; the
//! demo says so until that controller lands.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use driftless_api::source::GitRepository;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use testkit::ControlPlane;
use testkit::git_server::{GitAuth, GitServer};

const NAMESPACE: &str = "flux-system";
const CONVERGE: Duration = Duration::from_secs(90);

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
  namespace: demo
spec:
  replicas: 2
  selector:
    matchLabels: {app: podinfo}
  template:
    metadata:
      labels: {app: podinfo}
    spec:
      containers:
        - name: podinfo
          image: ghcr.io/stefanprodan/podinfo:6.7.0
";

/// The controller process, stopped (SIGTERM, then kill) when dropped.
struct Controller {
    child: Child,
    log: PathBuf,
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Builds the `driftless` binary and returns its path.
fn build_driftless() -> anyhow::Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "driftless-cli",
            "--bin",
            "driftless",
        ])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building the driftless binary failed ({status})");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    Ok(target.join("debug/driftless"))
}

fn start_source_controller(
    plane: &ControlPlane,
    binary: &PathBuf,
    storage: &std::path::Path,
) -> anyhow::Result<Controller> {
    let storage_port = free_port()?;
    let log = plane.state_dir().join("logs/demo-source-controller.log");
    let out = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let child = Command::new(binary)
        .args([
            "source-controller".to_string(),
            format!("--storage-path={}", storage.display()),
            format!("--storage-addr=127.0.0.1:{storage_port}"),
            format!("--storage-adv-addr=127.0.0.1:{storage_port}"),
            format!("--metrics-addr=127.0.0.1:{}", free_port()?),
            format!("--health-addr=127.0.0.1:{}", free_port()?),
            "--log-encoding=console".to_string(),
        ])
        .env("KUBECONFIG", plane.kubeconfig_path())
        .env("RUNTIME_NAMESPACE", NAMESPACE)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .context("starting driftless source-controller")?;
    Ok(Controller { child, log })
}

async fn install_crds(client: &kube::Client) -> anyhow::Result<()> {
    for crd in driftless_api::crds() {
        testkit::install_crd(client, &crd, "driftless-demo").await?;
    }
    Ok(())
}

/// Waits until the GitRepository is Ready=True at a revision other than `not`.
async fn wait_ready_revision(
    api: &Api<GitRepository>,
    name: &str,
    not: Option<&str>,
    controller: &Controller,
) -> anyhow::Result<GitRepository> {
    let found = testkit::wait::until(CONVERGE, "the GitRepository to be Ready", || async {
        let repo = api.get(name).await.map_err(|e| e.to_string())?;
        let value = serde_json::to_value(&repo).map_err(|e| e.to_string())?;
        let ready = value["status"]["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
            .cloned()
            .unwrap_or_default();
        let revision = value["status"]["artifact"]["revision"]
            .as_str()
            .unwrap_or_default();
        if ready["status"] == "True" && Some(revision) != not {
            Ok(Some(repo))
        } else {
            Err(format!("Ready={} {}", ready["status"], ready["message"]))
        }
    })
    .await;
    found.map_err(|e| anyhow::anyhow!("{e}; controller log: {}", controller.log.display()))
}

fn describe(repo: &GitRepository) -> String {
    let value = serde_json::to_value(repo).unwrap_or_default();
    let artifact = &value["status"]["artifact"];
    format!(
        "revision {}\n    artifact {} ({} bytes, {})",
        artifact["revision"].as_str().unwrap_or("?"),
        artifact["url"].as_str().unwrap_or("?"),
        artifact["size"],
        artifact["digest"].as_str().unwrap_or("?"),
    )
}

pub async fn run() -> anyhow::Result<()> {
    let plane = ControlPlane::from_env();
    plane.up().await?;
    let client = plane.client().await?;
    let version = client.apiserver_version().await?;
    eprintln!(
        "==> local control plane up: Kubernetes {}",
        version.git_version
    );

    install_crds(&client).await?;
    eprintln!(
        "==> {} driftless CRDs installed (Flux's API groups and versions)",
        driftless_api::crds().len()
    );

    let git = GitServer::start(GitAuth::None).await?;
    let repo = git.create_repo("fleet")?;
    repo.commit_files(
        "main",
        &[("apps/podinfo/deployment.yaml", DEPLOYMENT)],
        "Add podinfo",
    )?;
    eprintln!("==> serving a Git repository at {}", git.url("fleet"));

    let binary = build_driftless()?;
    let storage = tempfile_dir(&plane)?;
    let controller = start_source_controller(&plane, &binary, &storage)?;
    eprintln!(
        "==> driftless source-controller running (log: {})",
        controller.log.display()
    );

    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let params = PatchParams::apply("driftless-demo").force();
    namespaces
        .patch(
            NAMESPACE,
            &params,
            &Patch::Apply(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}),
            ),
        )
        .await?;
    let api: Api<GitRepository> = Api::namespaced(client.clone(), NAMESPACE);
    let object = json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "fleet", "namespace": NAMESPACE},
        "spec": {"interval": "1m", "url": git.url("fleet"), "ref": {"branch": "main"}},
    });
    api.patch("fleet", &params, &Patch::Apply(&object)).await?;
    let first = wait_ready_revision(&api, "fleet", None, &controller).await?;
    eprintln!(
        "==> GitRepository flux-system/fleet is Ready:\n    {}",
        describe(&first)
    );

    repo.commit_files(
        "main",
        &[(
            "apps/podinfo/deployment.yaml",
            &DEPLOYMENT.replace("replicas: 2", "replicas: 3"),
        )],
        "Scale podinfo to 3",
    )?;
    let requested = format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs()
    );
    let annotate =
        json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": requested}}});
    api.patch("fleet", &PatchParams::default(), &Patch::Merge(&annotate))
        .await?;
    let old = serde_json::to_value(&first)?["status"]["artifact"]["revision"]
        .as_str()
        .map(str::to_string);
    let second = wait_ready_revision(&api, "fleet", old.as_deref(), &controller).await?;
    eprintln!(
        "==> pushed a commit and requested a reconcile; now at:\n    {}",
        describe(&second)
    );

    eprintln!(
        "==> next (not built yet): kustomize-controller applies that artifact's apps/podinfo into \
         the cluster, so `kubectl -n demo get deploy podinfo` follows Git. The control plane stays \
         up; stop it with `cargo xtask cluster down`. Talk to it with:"
    );
    drop(controller);
    println!("{}", plane.export_line());
    Ok(())
}

/// A fresh storage directory under the plane's state directory.
fn tempfile_dir(plane: &ControlPlane) -> anyhow::Result<PathBuf> {
    let dir = plane.state_dir().join("demo-storage");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
