//! `driftless image-reflector-controller` flags: the runtime flags every Flux controller shares
//! plus image-reflector-controller's own, spelled and defaulted as its `main.go` does. Badger's
//! and the token cache's tuning flags are accepted for drop-in compatibility and have no effect
//! (there is no Badger, and cloud providers are not implemented); the store's caps are ours.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args as ClapArgs;
use driftless_runtime::flags::{GoDuration, RuntimeArgs};

use crate::store::{DEFAULT_MAX_REPOSITORY_BYTES, DEFAULT_MAX_TOTAL_BYTES, Limits};

/// image-reflector-controller's default `--concurrent`.
pub const DEFAULT_CONCURRENT: usize = 4;

/// Flags of `driftless image-reflector-controller`.
#[derive(Clone, Debug, ClapArgs)]
pub struct Args {
    /// Flags shared by every controller (`--metrics-addr`, `--events-addr`, `--concurrent`…).
    #[command(flatten)]
    pub runtime: RuntimeArgs,

    /// Where to store the scanned tags.
    #[arg(long, default_value = "/data")]
    pub storage_path: PathBuf,

    /// The largest tag list of one ImageRepository, in bytes as stored (a tag and a newline
    /// each); a scan over it fails instead of filling the disk.
    #[arg(long, default_value_t = DEFAULT_MAX_REPOSITORY_BYTES)]
    pub storage_max_repository_size: u64,

    /// The largest size of the whole tag store, in bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_TOTAL_BYTES)]
    pub storage_max_size: u64,

    /// Badger's value log file size (accepted for compatibility; there is no Badger).
    #[arg(long, default_value_t = 1 << 28)]
    pub storage_value_log_file_size: i64,

    /// Compression threshold of Flux's file store in KiB (accepted for compatibility).
    #[arg(long, default_value_t = 64)]
    pub storage_compression_threshold: i64,

    /// Minutes between sweeps of store entries whose ImageRepository is gone; 0 disables them
    /// (Flux's Badger garbage collection interval).
    #[arg(long, default_value_t = 10)]
    pub gc_interval: u16,

    /// Size of the cloud token cache (accepted for compatibility).
    #[arg(long, default_value_t = 100)]
    pub token_cache_max_size: i64,

    /// Longest life of a cached cloud token (accepted for compatibility).
    #[arg(long, default_value = "1h")]
    pub token_cache_max_duration: GoDuration,
}

impl Args {
    /// The tag store's caps.
    pub fn store_limits(&self) -> Limits {
        Limits {
            per_repository: self.storage_max_repository_size,
            total: self.storage_max_size,
        }
    }

    /// `--gc-interval` as a duration; `None` when disabled.
    pub fn sweep_interval(&self) -> Option<Duration> {
        (self.gc_interval > 0).then(|| Duration::from_secs(u64::from(self.gc_interval) * 60))
    }

    /// `--requeue-dependency`.
    pub fn requeue_dependency(&self) -> Duration {
        self.runtime.requeue_dependency.get()
    }
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
        Cli::try_parse_from(
            std::iter::once("image-reflector-controller").chain(argv.iter().copied()),
        )
        .map(|c| c.args)
    }

    #[test]
    fn the_flag_set_is_a_valid_clap_command() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_are_fluxs_plus_the_store_caps() {
        let args = parse(&[]).expect("defaults parse");
        assert_eq!(args.storage_path, PathBuf::from("/data"));
        assert_eq!(args.runtime.concurrency(DEFAULT_CONCURRENT), 4);
        assert_eq!(args.storage_value_log_file_size, 268_435_456);
        assert_eq!(args.sweep_interval(), Some(Duration::from_secs(600)));
        assert_eq!(args.store_limits(), Limits::default());
        assert_eq!(args.requeue_dependency(), Duration::from_secs(30));
    }

    #[test]
    fn the_args_of_fluxs_image_reflector_deployment_parse() {
        let args = parse(&[
            "--watch-all-namespaces",
            "--log-level=info",
            "--log-encoding=json",
            "--enable-leader-election",
            "--storage-path=/tmp/tags",
            "--storage-value-log-file-size=1024",
            "--gc-interval=0",
            "--token-cache-max-size=10",
            "--token-cache-max-duration=30m",
            "--feature-gates=ObjectLevelWorkloadIdentity=true",
        ])
        .expect("manifest args parse");
        assert!(args.runtime.enable_leader_election);
        assert_eq!(args.storage_path, PathBuf::from("/tmp/tags"));
        assert_eq!(args.sweep_interval(), None);
    }

    #[test]
    fn the_store_caps_can_be_set() {
        let args = parse(&[
            "--storage-max-repository-size=1000",
            "--storage-max-size=5000",
        ])
        .expect("caps parse");
        assert_eq!(
            args.store_limits(),
            Limits {
                per_repository: 1000,
                total: 5000
            }
        );
    }
}
