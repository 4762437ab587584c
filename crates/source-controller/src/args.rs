//! `driftless source-controller` flags: the runtime flags every Flux controller shares plus
//! source-controller's storage flags, spelled, defaulted and read from the environment as
//! source-controller's `main.go` does (`STORAGE_PATH`, `STORAGE_ADDR`, `STORAGE_ADV_ADDR`).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args as ClapArgs;
use driftless_artifact::Retention;
use driftless_artifact::layout::default_advertised_address;
use driftless_runtime::flags::{GoDuration, RuntimeArgs};

/// source-controller's default `--concurrent`.
pub const DEFAULT_CONCURRENT: usize = 2;

/// Flags of `driftless source-controller`.
#[derive(Clone, Debug, ClapArgs)]
pub struct Args {
    /// Flags shared by every controller (`--metrics-addr`, `--events-addr`, `--concurrent`…).
    #[command(flatten)]
    pub runtime: RuntimeArgs,

    /// The local storage path; `<working directory>/bin` when empty, as in Flux.
    #[arg(long, env = "STORAGE_PATH", default_value = "")]
    pub storage_path: String,

    /// The address the static file server binds to.
    #[arg(long, env = "STORAGE_ADDR", default_value = ":9090")]
    pub storage_addr: String,

    /// The advertised address of the static file server; derived from `--storage-addr` and the
    /// hostname when empty.
    #[arg(long, env = "STORAGE_ADV_ADDR", default_value = "")]
    pub storage_adv_addr: String,

    /// The duration of time that artifacts from previous reconciliations are kept in storage
    /// before being garbage collected.
    #[arg(long, default_value = "1m0s")]
    pub artifact_retention_ttl: GoDuration,

    /// The maximum number of artifacts to be kept in storage after a garbage collection.
    #[arg(long, default_value_t = 2)]
    pub artifact_retention_records: usize,

    /// The algorithm used to calculate artifact digests; only `sha256` is supported.
    #[arg(long, default_value = "sha256", value_parser = ["sha256"])]
    pub artifact_digest_algo: String,
}

impl Args {
    /// `--storage-path`, or `<cwd>/bin` when empty (source-controller's `mustInitStorage`).
    pub fn storage_root(&self) -> PathBuf {
        if self.storage_path.trim().is_empty() {
            let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
            return cwd.join("bin");
        }
        PathBuf::from(&self.storage_path)
    }

    /// `--storage-adv-addr`, or `--storage-addr` with an empty host replaced by the hostname.
    pub fn advertised_address(&self, hostname: &str) -> String {
        let adv = self.storage_adv_addr.trim();
        if adv.is_empty() {
            default_advertised_address(&self.storage_addr, hostname)
        } else {
            adv.to_owned()
        }
    }

    /// The retention of old artifacts.
    pub fn retention(&self) -> Retention {
        Retention {
            records: self.artifact_retention_records,
            ttl: self.artifact_retention_ttl.get(),
        }
    }

    /// `--requeue-dependency`.
    pub fn requeue_dependency(&self) -> Duration {
        self.runtime.requeue_dependency.get()
    }
}

/// The pod's hostname as Go's `os.Hostname` sees it, `localhost` when unknown.
pub fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(argv: &[&str]) -> Result<Args, clap::Error> {
        Cli::try_parse_from(std::iter::once("source-controller").chain(argv.iter().copied()))
            .map(|c| c.args)
    }

    #[test]
    fn the_flag_set_is_a_valid_clap_command() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_args_of_fluxs_source_controller_deployment_parse() {
        let args = parse(&[
            "--events-addr=http://notification-controller.flux-system.svc.cluster.local./",
            "--watch-all-namespaces=true",
            "--log-level=info",
            "--log-encoding=json",
            "--enable-leader-election",
            "--storage-path=/data",
            "--storage-adv-addr=source-controller.flux-system.svc.cluster.local.",
        ])
        .expect("manifest args parse");
        assert_eq!(args.storage_root(), PathBuf::from("/data"));
        assert_eq!(
            args.advertised_address("pod-1"),
            "source-controller.flux-system.svc.cluster.local."
        );
        assert_eq!(args.runtime.concurrency(DEFAULT_CONCURRENT), 2);
    }

    #[test]
    fn retention_and_storage_address_default_as_in_flux() {
        let args = parse(&[]).expect("defaults parse");
        assert_eq!(args.storage_addr, ":9090");
        assert_eq!(args.advertised_address("pod-1"), "pod-1:9090");
        assert_eq!(
            args.retention(),
            Retention {
                records: 2,
                ttl: Duration::from_secs(60)
            }
        );
        assert_eq!(args.requeue_dependency(), Duration::from_secs(30));
    }

    #[test]
    fn digest_algorithms_other_than_sha256_are_refused() {
        assert!(parse(&["--artifact-digest-algo=sha512"]).is_err());
        assert!(parse(&["--artifact-retention-ttl=5"]).is_err());
    }
}
