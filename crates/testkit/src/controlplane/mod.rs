//! A real Kubernetes control plane on loopback: etcd, kube-apiserver,
//! kube-controller-manager, kube-scheduler and kwok (fake nodes), built from
//! pinned Go modules and started as detached processes.
//!
//! `up` is idempotent (a healthy running plane is reused), `down` stops every
//! process of the plane, and every wait has a deadline so a broken component
//! becomes an error with its log tail, never a hang.

mod components;
mod kubeconfig;
mod nodes;
mod process;
mod state;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use components::{DEFAULT_PORT_BASE, Ports};
pub use nodes::{NODE_COUNT, node_name};

use crate::cache::Cache;
use crate::fsutil::{FileLock, tail_lines};
use crate::gotools::{GoToolError, pinned_tool};
use crate::pki::{Pki, PkiError};
use components::{Binaries, Layout};
use process::Running;
use state::State;

const ETCD_READY_TIMEOUT: Duration = Duration::from_secs(30);
const APISERVER_READY_TIMEOUT: Duration = Duration::from_secs(90);
const NODES_READY_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Errors of the control plane. Each names the component and carries the end
/// of its log, so the reason is on screen.
#[derive(Debug, thiserror::Error)]
pub enum ControlPlaneError {
    #[error(transparent)]
    Tool(#[from] GoToolError),
    #[error("generating cluster certificates: {0}")]
    Pki(#[from] PkiError),
    #[error(
        "port 127.0.0.1:{port} needed by {component} is already in use by another process; \
         stop it, or choose other ports with DRIFTLESS_CLUSTER_PORT_BASE=<port>"
    )]
    PortInUse { port: u16, component: &'static str },
    #[error("starting {component}: {source}")]
    Spawn {
        component: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{component} exited during startup; last lines of {}:\n{tail}", log.display())]
    ComponentExited {
        component: String,
        log: PathBuf,
        tail: String,
    },
    #[error("{component} was not ready after {waited:?}; last lines of {}:\n{tail}", log.display())]
    NotReady {
        component: String,
        waited: Duration,
        log: PathBuf,
        tail: String,
    },
    #[error("{step}: {source}")]
    Kube {
        step: &'static str,
        #[source]
        source: kube::Error,
    },
    #[error("reading kubeconfig {}: {reason}", path.display())]
    Kubeconfig { path: PathBuf, reason: String },
    #[error("cluster state I/O on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> ControlPlaneError + '_ {
    move |source| ControlPlaneError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What `up` found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpOutcome {
    /// A healthy plane was already running; nothing was started.
    AlreadyRunning,
    /// The plane was started; how long it took from cached binaries to Ready nodes.
    Started { elapsed: Duration },
}

/// One named local control plane and its state directory.
#[derive(Debug, Clone)]
pub struct ControlPlane {
    cache: Cache,
    name: String,
    ports: Ports,
    dir: PathBuf,
}

impl ControlPlane {
    pub fn new(cache: Cache, name: &str, port_base: u16) -> Self {
        let dir = cache.cluster_dir(name);
        Self {
            cache,
            name: name.to_string(),
            ports: Ports::from_base(port_base),
            dir,
        }
    }

    /// The shared plane: cache from `DRIFTLESS_CACHE`, ports from
    /// `DRIFTLESS_CLUSTER_PORT_BASE` (default 17000).
    pub fn from_env() -> Self {
        let base = std::env::var("DRIFTLESS_CLUSTER_PORT_BASE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_PORT_BASE);
        Self::new(Cache::from_env(), "default", base)
    }

    pub fn ports(&self) -> Ports {
        self.ports
    }

    pub fn state_dir(&self) -> &Path {
        &self.dir
    }

    pub fn kubeconfig_path(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    /// Directory with kubectl (and the component binaries) for `PATH`.
    pub fn bin_dir(&self) -> PathBuf {
        self.dir.join("bin")
    }

    /// The shell line that points kubectl at this plane.
    pub fn export_line(&self) -> String {
        format!(
            "export KUBECONFIG={} PATH={}:$PATH",
            self.kubeconfig_path().display(),
            self.bin_dir().display()
        )
    }

    fn lock_path(&self) -> PathBuf {
        self.cache
            .locks_dir()
            .join(format!("cluster-{}.lock", self.name))
    }

    fn lock(&self) -> Result<FileLock, ControlPlaneError> {
        let path = self.lock_path();
        FileLock::acquire(&path).map_err(io_err(&path))
    }

    /// Waits for the plane's lock without blocking the async runtime: another
    /// task in this process (or another process) may hold it for minutes
    /// while it builds and starts the plane.
    async fn lock_async(&self) -> Result<FileLock, ControlPlaneError> {
        let path = self.lock_path();
        let locked = path.clone();
        tokio::task::spawn_blocking(move || FileLock::acquire(&locked))
            .await
            .map_err(|e| ControlPlaneError::Io {
                path: path.clone(),
                source: std::io::Error::other(e),
            })?
            .map_err(io_err(&path))
    }

    /// A client for the admin user of this plane.
    pub async fn client(&self) -> Result<kube::Client, ControlPlaneError> {
        let config = self.config().await?;
        kube::Client::try_from(config).map_err(|source| ControlPlaneError::Kube {
            step: "building a client",
            source,
        })
    }

    /// The admin client configuration, to adjust (impersonation, timeouts)
    /// before building a client from it.
    pub async fn config(&self) -> Result<kube::Config, ControlPlaneError> {
        let path = self.kubeconfig_path();
        let invalid = |reason: String| ControlPlaneError::Kubeconfig {
            path: path.clone(),
            reason,
        };
        let kubeconfig =
            kube::config::Kubeconfig::read_from(&path).map_err(|e| invalid(e.to_string()))?;
        let options = kube::config::KubeConfigOptions::default();
        kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| invalid(e.to_string()))
    }

    /// True when every recorded process runs and the API server answers /readyz.
    pub async fn is_healthy(&self) -> bool {
        let Some(state) = State::load(&self.dir) else {
            return false;
        };
        if !state.all_alive() {
            return false;
        }
        match self.client().await {
            Ok(client) => apiserver_ready(&client).await,
            Err(_) => false,
        }
    }

    /// Starts the plane, or reuses it when it already runs healthy.
    pub async fn up(&self) -> Result<UpOutcome, ControlPlaneError> {
        let _lock = self.lock_async().await?;
        if self.is_healthy().await {
            return Ok(UpOutcome::AlreadyRunning);
        }
        // Whatever is left of an earlier plane (crashed, half-started) goes first.
        self.stop_all();

        // Ports first: a clash is reported at once, before any build or start.
        self.check_ports_free()?;
        let bins = self.binaries()?;
        let started = Instant::now();
        let result = self.start(&bins).await;
        if result.is_err() {
            // Never leave a half-started plane behind.
            self.stop_all();
        }
        result.map(|()| UpOutcome::Started {
            elapsed: started.elapsed(),
        })
    }

    /// Stops every process of this plane. Returns the components it stopped.
    pub fn down(&self) -> Result<Vec<String>, ControlPlaneError> {
        let _lock = self.lock()?;
        Ok(self.stop_all())
    }

    fn stop_all(&self) -> Vec<String> {
        let mut stopped = Vec::new();
        if let Some(state) = State::load(&self.dir) {
            for running in state.components.iter().rev() {
                if running.is_running() {
                    process::stop_group(running.pid, STOP_GRACE);
                    stopped.push(running.component.clone());
                }
            }
        }
        // Processes of a plane whose state file was lost still name its directory.
        for pid in state::pids_referencing(&self.dir, &components::EXECUTABLES) {
            process::stop_group(pid, STOP_GRACE);
            stopped.push(format!("pid {pid}"));
        }
        State::remove(&self.dir);
        stopped
    }

    fn binaries(&self) -> Result<Binaries, ControlPlaneError> {
        let kube = pinned_tool("kubernetes")?.ensure(&self.cache)?;
        let etcd = pinned_tool("etcd")?.ensure(&self.cache)?;
        let kwok_tool = pinned_tool("kwok")?;
        let kwok = kwok_tool.ensure(&self.cache)?;
        Ok(Binaries {
            etcd: etcd.path("etcd"),
            apiserver: kube.path("kube-apiserver"),
            controller_manager: kube.path("kube-controller-manager"),
            scheduler: kube.path("kube-scheduler"),
            kubectl: kube.path("kubectl"),
            kwok: kwok.path("kwok"),
            kwok_stages: kwok_tool.assets.iter().map(|a| kwok.asset(a)).collect(),
        })
    }

    fn check_ports_free(&self) -> Result<(), ControlPlaneError> {
        for (port, component) in self.ports.all() {
            if TcpListener::bind(("127.0.0.1", port)).is_err() {
                return Err(ControlPlaneError::PortInUse { port, component });
            }
        }
        Ok(())
    }

    async fn start(&self, bins: &Binaries) -> Result<(), ControlPlaneError> {
        let dir = &self.dir;
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let logs = dir.join("logs");
        // A fresh plane starts from an empty store; certificates are kept so
        // kubeconfigs handed out earlier stay valid.
        for stale in [dir.join("etcd"), logs.clone()] {
            if stale.exists() {
                std::fs::remove_dir_all(&stale).map_err(io_err(&stale))?;
            }
        }
        std::fs::create_dir_all(&logs).map_err(io_err(&logs))?;

        let pki = Pki::ensure(&dir.join("pki"))?;
        let server = format!("https://127.0.0.1:{}", self.ports.apiserver);
        let kubeconfig_path = self.kubeconfig_path();
        let text = kubeconfig::render(&pki, &server)?;
        kubeconfig::write(&kubeconfig_path, &text).map_err(io_err(&kubeconfig_path))?;
        let kwok_config = dir.join("kwok.yaml");
        let kwok_text = nodes::kwok_config(&bins.kwok_stages).map_err(io_err(&kwok_config))?;
        std::fs::write(&kwok_config, kwok_text).map_err(io_err(&kwok_config))?;
        self.link_bin_dir(bins)?;

        let layout = Layout {
            state_dir: dir,
            pki: &pki,
            ports: self.ports,
            kubeconfig: &kubeconfig_path,
            kwok_config: &kwok_config,
        };
        let mut state = State::default();
        let mut client = None;
        for component in components::components(bins, &layout) {
            let log = logs.join(format!("{}.log", component.name));
            let running =
                process::spawn_detached(component.name, &component.binary, &component.args, &log)
                    .map_err(|source| ControlPlaneError::Spawn {
                    component: component.name.to_string(),
                    source,
                })?;
            state.components.push(running.clone());
            state.save(dir).map_err(io_err(dir))?;
            match component.name {
                "etcd" => wait_port(&running, self.ports.etcd_client, ETCD_READY_TIMEOUT).await?,
                "kube-apiserver" => {
                    let c = self.client().await?;
                    wait_apiserver(&running, &c).await?;
                    client = Some(c);
                }
                _ => {}
            }
        }
        let client = client.ok_or_else(|| ControlPlaneError::NotReady {
            component: "kube-apiserver".into(),
            waited: Duration::ZERO,
            log: logs.join("kube-apiserver.log"),
            tail: "the API server was never started".into(),
        })?;
        nodes::apply_nodes(&client)
            .await
            .map_err(|source| ControlPlaneError::Kube {
                step: "creating the fake nodes",
                source,
            })?;
        let kwok_log = logs.join("kwok.log");
        if let Err(pending) = nodes::wait_nodes_ready(&client, NODES_READY_TIMEOUT).await {
            return Err(ControlPlaneError::NotReady {
                component: format!("kwok (nodes not Ready: {})", pending.join(", ")),
                waited: NODES_READY_TIMEOUT,
                tail: tail_lines(&kwok_log, 20),
                log: kwok_log,
            });
        }
        for running in &state.components {
            ensure_alive(running)?;
        }
        Ok(())
    }

    fn link_bin_dir(&self, bins: &Binaries) -> Result<(), ControlPlaneError> {
        let bin_dir = self.bin_dir();
        if bin_dir.exists() {
            std::fs::remove_dir_all(&bin_dir).map_err(io_err(&bin_dir))?;
        }
        std::fs::create_dir_all(&bin_dir).map_err(io_err(&bin_dir))?;
        for target in [
            &bins.kubectl,
            &bins.etcd,
            &bins.apiserver,
            &bins.controller_manager,
            &bins.scheduler,
            &bins.kwok,
        ] {
            let Some(name) = target.file_name() else {
                continue;
            };
            let link = bin_dir.join(name);
            std::os::unix::fs::symlink(target, &link).map_err(io_err(&link))?;
        }
        Ok(())
    }
}

fn ensure_alive(running: &Running) -> Result<(), ControlPlaneError> {
    if running.is_running() {
        Ok(())
    } else {
        Err(ControlPlaneError::ComponentExited {
            component: running.component.clone(),
            log: running.log.clone(),
            tail: tail_lines(&running.log, 30),
        })
    }
}

fn not_ready(running: &Running, waited: Duration) -> ControlPlaneError {
    ControlPlaneError::NotReady {
        component: running.component.clone(),
        waited,
        log: running.log.clone(),
        tail: tail_lines(&running.log, 30),
    }
}

async fn wait_port(
    running: &Running,
    port: u16,
    timeout: Duration,
) -> Result<(), ControlPlaneError> {
    let deadline = Instant::now() + timeout;
    loop {
        ensure_alive(running)?;
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(not_ready(running, timeout));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn apiserver_ready(client: &kube::Client) -> bool {
    let Ok(request) = http::Request::get("/readyz").body(Vec::new()) else {
        return false;
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(5), client.request_text(request)).await,
        Ok(Ok(body)) if body.trim() == "ok"
    )
}

async fn wait_apiserver(running: &Running, client: &kube::Client) -> Result<(), ControlPlaneError> {
    let deadline = Instant::now() + APISERVER_READY_TIMEOUT;
    loop {
        ensure_alive(running)?;
        if apiserver_ready(client).await {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(not_ready(running, APISERVER_READY_TIMEOUT));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
