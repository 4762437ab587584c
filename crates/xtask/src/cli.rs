//! Command-line surface of `cargo xtask`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "driftless project automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The local Kubernetes control plane (etcd, kube-apiserver,
    /// kube-controller-manager, kube-scheduler, kwok) used by tests and the demo.
    Cluster {
        #[command(subcommand)]
        action: ClusterAction,
    },
    /// The whole test suite: fmt, clippy, cargo deny, unit, conformance and
    /// integration tests against the local control plane.
    Test {
        /// Extra arguments passed to `cargo test` (after `--`).
        #[arg(last = true)]
        cargo_test_args: Vec<String>,
    },
    /// Render the committed CRDs, install manifest and chart CRDs from the Rust types.
    Generate {
        /// Render in memory and fail, naming them, when committed files differ.
        #[arg(long)]
        check: bool,
    },
    /// The main job: a local control plane with driftless reconciling a Git repository.
    Demo {
        /// Exit after the demo's own push has landed instead of waiting for Ctrl-C.
        #[arg(long)]
        exit: bool,
    },
    /// Benchmarks against Flux's own controllers, written to docs/benchmarks.md.
    Bench {
        #[command(subcommand)]
        target: crate::bench::Target,
    },
    /// Rewrite a conformance suite's golden files from its oracle, then print `N passed, M failed`.
    Conformance {
        #[command(subcommand)]
        target: crate::conformance::Target,
    },
    /// Build (or verify) the pinned Go tools in the cache without starting anything.
    Tools {
        /// Tool names from crates/testkit/tools.toml; all when empty.
        names: Vec<String>,
    },
}

#[derive(Subcommand)]
enum ClusterAction {
    /// Build (first time) and start the plane; reuse it when it already runs.
    /// The last line printed is `export KUBECONFIG=… PATH=…:$PATH`.
    Up,
    /// Stop every process of the plane and free its ports.
    Down,
    /// Say whether the plane runs and how to reach it.
    Status,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Cluster {
                action: ClusterAction::Up,
            } => crate::cluster::up().await,
            Command::Cluster {
                action: ClusterAction::Down,
            } => crate::cluster::down(),
            Command::Cluster {
                action: ClusterAction::Status,
            } => crate::cluster::status().await,
            Command::Test { cargo_test_args } => crate::suite::run(&cargo_test_args).await,
            Command::Generate { check } => crate::generate::run(check),
            Command::Demo { exit } => crate::demo::run(exit).await,
            Command::Bench { target } => crate::bench::run(target).await,
            Command::Conformance { target } => crate::conformance::run(target),
            Command::Tools { names } => crate::cluster::build_tools(&names),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
