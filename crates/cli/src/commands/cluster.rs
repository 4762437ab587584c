//! The connection every user command makes: flux's kubeconfig flags, one kube client, and errors
//! that say what to do when the cluster, a CRD or an object is not there.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use driftless_runtime::flags::GoDuration;
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::manifests::DEFAULT_NAMESPACE;

/// The flags flux puts on every command that talks to the cluster.
#[derive(Debug, Clone, Args)]
pub struct KubeArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// The namespace scope of the operation.
    #[arg(short = 'n', long, global = true, env = "FLUX_SYSTEM_NAMESPACE", default_value = DEFAULT_NAMESPACE)]
    pub namespace: String,
    /// Timeout for this operation (Go duration syntax).
    #[arg(long, global = true, default_value = "5m0s")]
    pub timeout: GoDuration,
}

impl KubeArgs {
    /// The arguments as flux defaults them: namespace flux-system, timeout five minutes.
    pub fn new(namespace: &str) -> Self {
        Self {
            kubeconfig: None,
            context: None,
            namespace: namespace.to_owned(),
            timeout: GoDuration(Duration::from_secs(300)),
        }
    }

    /// A client for the chosen kubeconfig and context.
    pub async fn client(&self) -> Result<kube::Client, ClusterError> {
        let options = KubeConfigOptions {
            context: self.context.clone(),
            ..KubeConfigOptions::default()
        };
        let kubeconfig = match &self.kubeconfig {
            Some(path) => Kubeconfig::read_from(path).map_err(|e| ClusterError::Kubeconfig {
                detail: format!("{}: {e}", path.display()),
            })?,
            None => Kubeconfig::read().map_err(|e| ClusterError::Kubeconfig {
                detail: e.to_string(),
            })?,
        };
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| ClusterError::Kubeconfig {
                detail: e.to_string(),
            })?;
        let server = config.cluster_url.to_string();
        let client = kube::Client::try_from(config).map_err(|e| ClusterError::Unreachable {
            server: server.clone(),
            detail: e.to_string(),
        })?;
        // One cheap request now, so an unreachable server is reported as such instead of as
        // the first list or patch failing with a transport error.
        client
            .apiserver_version()
            .await
            .map_err(|e| ClusterError::Unreachable {
                server,
                detail: e.to_string(),
            })?;
        Ok(client)
    }
}

/// Why a command that talks to the cluster failed. Each message carries a hint at the fix.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "no usable kubeconfig: {detail} (hint: pass --kubeconfig, set KUBECONFIG, or pick a context with --context)"
    )]
    Kubeconfig { detail: String },
    #[error(
        "Kubernetes API server {server} is not reachable: {detail} (hint: is the cluster running, and does the kubeconfig context point at it?)"
    )]
    Unreachable { server: String, detail: String },
    #[error(
        "the {kind} CRD ({crd}) is not installed on the cluster (hint: run `driftless install`, or apply the CRDs with `driftless crds | kubectl apply -f -`)"
    )]
    CrdMissing { kind: String, crd: String },
    #[error("{kind} object '{name}' not found in \"{namespace}\" namespace")]
    NotFound {
        kind: String,
        name: String,
        namespace: String,
    },
    #[error("no {kind} objects found in {namespace} namespace")]
    NoneFound { kind: String, namespace: String },
    #[error("{what}: {source}")]
    Api {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("timed out after {timeout} waiting for {what}")]
    Timeout { what: String, timeout: GoDuration },
    #[error("resource is suspended")]
    Suspended,
    #[error("{0}")]
    Failed(String),
    #[error("invalid argument: {0}")]
    Invalid(String),
}

impl ClusterError {
    /// Wraps a kube error with what was being done.
    pub fn api(what: impl Into<String>, source: kube::Error) -> Self {
        Self::Api {
            what: what.into(),
            source,
        }
    }
}

/// Whether `error` is the API server's 404.
pub fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}

/// Runs a future on a fresh runtime: user commands are short and the binary's `run` is sync.
pub fn block_on<T>(
    future: impl std::future::Future<Output = Result<T, super::CommandError>>,
) -> Result<T, super::CommandError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(super::CommandError::Output)?;
    runtime.block_on(future)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_kubeconfig_file_is_an_error_with_a_hint() {
        let mut args = KubeArgs::new("flux-system");
        args.kubeconfig = Some(PathBuf::from("/nonexistent/driftless/kubeconfig"));
        let err = args.client().await.err().expect("fails").to_string();
        assert!(err.contains("/nonexistent/driftless/kubeconfig"), "{err}");
        assert!(err.contains("hint: pass --kubeconfig"), "{err}");
    }

    #[tokio::test]
    async fn an_unreachable_server_is_reported_with_its_address() {
        let dir = std::env::temp_dir().join(format!("driftless-cli-kc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("config");
        // Port 1 on loopback refuses connections.
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:1\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\nusers:\n- name: u\n  user: {}\ncurrent-context: c\n",
        )
        .expect("kubeconfig written");
        let mut args = KubeArgs::new("flux-system");
        args.kubeconfig = Some(path);
        let err = args.client().await.err().expect("fails").to_string();
        assert!(err.contains("127.0.0.1:1"), "{err}");
        assert!(err.contains("is the cluster running"), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
