//! Our render against `helm template` on the reference chart corpus, side by
//! side in one run: `cargo run --release -p driftless-helm --example bench [N]`.
//! Ours is timed in process (load + values + render + print, as
//! helm-controller will call it) and as the same work minus nothing else;
//! helm as the pinned binary's process, which includes its start-up.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use driftless_helm::{Options, Values, load, template};

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let corpus =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/corpus/charts");
    let helm = testkit::gotools::pinned_tool("helm")
        .unwrap()
        .ensure(&testkit::Cache::from_env())
        .unwrap()
        .path("helm");
    let scratch = tempfile::tempdir().unwrap();
    // helm's start-up alone, to show what part of its time is the process.
    let start = Instant::now();
    for _ in 0..n {
        let out = Command::new(&helm).arg("version").output().unwrap();
        assert!(out.status.success());
    }
    let helm_startup = start.elapsed() / n;
    println!(
        "helm version (process start-up): {:.1} ms",
        ms(helm_startup)
    );
    println!("| chart | driftless (in process) | helm template (process) | ratio |");
    println!("|---|---|---|---|");
    let (mut ours_total, mut helm_total) = (Duration::ZERO, Duration::ZERO);
    for chart in ["flux2", "ingress-nginx", "nginx", "podinfo"] {
        let dir = corpus.join(chart);
        let opts = Options {
            release_name: "bench".into(),
            kube_version: Some("1.30.0".into()),
            skip_tests: true,
            ..Options::default()
        };
        let mut ours_out = String::new();
        let start = Instant::now();
        for _ in 0..n {
            let c = load(&dir).unwrap();
            ours_out = template(c, Values::new(), &opts).unwrap();
        }
        let ours = start.elapsed() / n;
        let start = Instant::now();
        let mut helm_out = Vec::new();
        for _ in 0..n {
            let out = Command::new(&helm)
                .args(["template", "bench"])
                .arg(&dir)
                .args(["--kube-version", "1.30.0", "--skip-tests"])
                .env("HELM_CACHE_HOME", scratch.path().join("cache"))
                .env("HELM_CONFIG_HOME", scratch.path().join("config"))
                .env("HELM_DATA_HOME", scratch.path().join("data"))
                .output()
                .unwrap();
            assert!(out.status.success());
            helm_out = out.stdout;
        }
        let theirs = start.elapsed() / n;
        let same = if ours_out.as_bytes() == helm_out.as_slice() {
            ""
        } else {
            " (outputs differ: random values)"
        };
        println!(
            "| {chart} | {:.1} ms | {:.1} ms | {:.2}{same} |",
            ms(ours),
            ms(theirs),
            ms(ours) / ms(theirs)
        );
        ours_total += ours;
        helm_total += theirs;
    }
    println!(
        "| all four | {:.1} ms | {:.1} ms | {:.2} |",
        ms(ours_total),
        ms(helm_total),
        ms(ours_total) / ms(helm_total)
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
