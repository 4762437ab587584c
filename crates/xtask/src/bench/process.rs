//! One controller process under benchmark: started against the local control plane with its
//! log in a file, probed until ready, sampled for memory, stopped gracefully.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;

/// A running controller and where its log goes.
pub(super) struct Controller {
    pub(super) name: String,
    child: Child,
    log_path: PathBuf,
    health_port: u16,
}

/// Memory of one controller: `VmHWM` at the end of a run and `VmRSS` after it idled.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) struct Rss {
    pub(super) peak_kib: u64,
    pub(super) idle_kib: u64,
}

impl Controller {
    /// Starts `program args…` with `KUBECONFIG` and `RUNTIME_NAMESPACE` set, stdout and stderr
    /// to `<dir>/<name>.log`, and a private `TMPDIR` under `dir` (Flux's kustomize-controller
    /// builds in temporary directories; both sides get the same disk).
    pub(super) fn spawn(
        name: &str,
        program: &Path,
        args: &[String],
        kubeconfig: &Path,
        namespace: &str,
        dir: &Path,
        health_port: u16,
    ) -> anyhow::Result<Self> {
        let log_path = dir.join(format!("{name}.log"));
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let tmp = dir.join(format!("{name}-tmp"));
        std::fs::create_dir_all(&tmp)?;
        let child = Command::new(program)
            .args(args)
            .env("KUBECONFIG", kubeconfig)
            .env("RUNTIME_NAMESPACE", namespace)
            .env("TMPDIR", &tmp)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {name} ({})", program.display()))?;
        Ok(Self {
            name: name.to_owned(),
            child,
            log_path,
            health_port,
        })
    }

    /// Waits until `/readyz` answers 200, failing early when the process exits.
    pub(super) async fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let addr = format!("127.0.0.1:{}", self.health_port);
        let name = self.name.clone();
        let child = &mut self.child;
        super::wait_until(timeout, &format!("{name} readiness probe"), || {
            let addr = addr.clone();
            let exited = child.try_wait().ok().flatten();
            async move {
                if let Some(status) = exited {
                    anyhow::bail!("exited early: {status}");
                }
                Ok(super::http_status(&addr, "/readyz").await == Some(200))
            }
        })
        .await
    }

    /// Fails when the process has exited.
    pub(super) fn ensure_running(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait()? {
            Some(status) => anyhow::bail!("{} exited with {status}", self.name),
            None => Ok(()),
        }
    }

    /// The peak resident set so far (`VmHWM`).
    pub(super) fn peak_kib(&self) -> u64 {
        status_field(self.child.id(), "VmHWM:")
    }

    /// The resident set now (`VmRSS`).
    pub(super) fn rss_kib(&self) -> u64 {
        status_field(self.child.id(), "VmRSS:")
    }

    /// The last `lines` lines of the log.
    pub(super) fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(lines).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    pub(super) fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// SIGTERM, then SIGKILL after 15 s. Only this child.
    pub(super) fn stop(mut self) {
        super::stop(&mut self.child);
    }
}

/// A `/proc/<pid>/status` field in KiB; 0 once the process is gone.
fn status_field(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
