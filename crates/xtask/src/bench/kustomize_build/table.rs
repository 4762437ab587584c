//! The `bench kustomize-build` block of docs/benchmarks.md: one row per group with the mean wall
//! time per build and the peak RSS of each side and their ratios, the directories left out and
//! why, how to reproduce, and the machine. Rewritten whole by every run.

use super::Sample;
use crate::bench::report::{mib, ratio, rewrite_block, today};

const BEGIN: &str =
    "<!-- bench kustomize-build: begin (cargo xtask bench kustomize-build rewrites this block) -->";
const END: &str = "<!-- bench kustomize-build: end -->";

/// One side's figures over a group.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Stats {
    /// Mean wall time per build, milliseconds.
    pub(super) mean_ms: f64,
    /// The largest peak RSS of any one build.
    pub(super) peak_kib: u64,
    /// The mean of the builds' peak RSS.
    pub(super) mean_peak_kib: f64,
}

impl Stats {
    pub(super) fn of(samples: &[Sample]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        let n = samples.len() as f64;
        Self {
            mean_ms: samples.iter().map(|s| s.wall_secs).sum::<f64>() * 1000.0 / n,
            peak_kib: samples.iter().map(|s| s.max_rss_kib).max().unwrap_or(0),
            mean_peak_kib: samples.iter().map(|s| s.max_rss_kib as f64).sum::<f64>() / n,
        }
    }
}

/// What became of one group.
#[derive(Clone, Debug, Default)]
pub(super) struct GroupResult {
    pub(super) name: String,
    /// Directories timed (equal output on both sides).
    pub(super) builds: usize,
    /// Directories left out, with why.
    pub(super) excluded: Vec<(String, String)>,
    pub(super) ours: Stats,
    pub(super) theirs: Stats,
}

impl GroupResult {
    pub(super) fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            ..Self::default()
        }
    }
}

pub(super) fn write(
    results: &[GroupResult],
    repetitions: usize,
    machine: &[(String, String)],
) -> anyhow::Result<()> {
    let command = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    let text = render(results, repetitions, &command, &today(), machine);
    rewrite_block(BEGIN, END, |_| Ok(text))
}

fn render(
    results: &[GroupResult],
    repetitions: usize,
    command: &str,
    date: &str,
    machine: &[(String, String)],
) -> String {
    let mut out = String::new();
    out.push_str(BEGIN);
    out.push_str("\n## kustomize build: driftless vs the kustomize binary\n\n");
    out.push_str(
        "`driftless kustomize build DIR` (a `--release` build) against the pinned \
         `kustomize build DIR` (crates/testkit/tools.toml), each a process per build, over the \
         fleet corpus kustomizations of the conformance suite, our own conformance cases (those \
         the oracle runs), and one synthetic overlay written at bench time (bases of \
         ConfigMaps, ServiceAccounts, Deployments and Services referring to one another, each \
         base with a name prefix, labels, ConfigMap and Secret generators, a JSON patch, a \
         strategic-merge patch and a replacement, under an overlay adding a namespace, a \
         prefix, annotations, an image override, a generator and a patch). Every directory is \
         built once by each side first and the outputs compared as YAML documents; where \
         either fails or the documents differ it is left out of the timing and listed below. \
         Then every kept directory is built by both in each round, the side going first \
         alternating between rounds. Wall time is from spawn to exit of the build process, \
         output discarded; peak RSS is the kernel's `ru_maxrss` of that process (each build \
         is the only child of a small wrapper). Ratios are driftless / kustomize: below 1 is \
         better. This machine is shared with other builds and tests; the load averages below \
         say how busy it was, and both sides run at the same niceness.\n\n",
    );
    out.push_str(&format!(
        "{repetitions} rounds; {date}; `cargo xtask {command}`\n\n"
    ));
    out.push_str(
        "| group | builds timed | left out | driftless mean | kustomize mean | time ratio | driftless peak RSS (max / mean) | kustomize peak RSS (max / mean) | RSS ratio (max) |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|---|\n");
    for r in results {
        let timed = r.builds > 0;
        let ms = |s: &Stats| {
            if timed {
                format!("{:.1} ms", s.mean_ms)
            } else {
                "-".to_owned()
            }
        };
        let rss = |s: &Stats| {
            if timed {
                format!(
                    "{:.1} / {:.1} MiB",
                    mib(s.peak_kib),
                    s.mean_peak_kib / 1024.0
                )
            } else {
                "-".to_owned()
            }
        };
        let when = |v: f64| timed.then_some(v);
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.name,
            r.builds,
            r.excluded.len(),
            ms(&r.ours),
            ms(&r.theirs),
            ratio(when(r.ours.mean_ms), when(r.theirs.mean_ms)),
            rss(&r.ours),
            rss(&r.theirs),
            ratio(when(r.ours.peak_kib as f64), when(r.theirs.peak_kib as f64)),
        ));
    }
    let excluded: Vec<&(String, String)> = results.iter().flat_map(|r| &r.excluded).collect();
    if !excluded.is_empty() {
        out.push_str("\nLeft out of the timing:\n\n");
        for (name, why) in excluded {
            out.push_str(&format!("- {name}: {}\n", why.replace('|', "/")));
        }
    }
    out.push_str(
        "\nReproduce: `cargo xtask bench kustomize-build` (`--repetitions K`, \
         `--synthetic-objects N`, `--driftless-binary PATH`, `--kustomize-binary PATH`); it \
         builds the release binary and the pinned oracle first.\n",
    );
    out.push_str("\nMachine (last run):\n\n");
    for (k, v) in machine {
        out.push_str(&format!("- {k}: {v}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ms: f64, kib: u64) -> Sample {
        Sample {
            wall_secs: ms / 1000.0,
            max_rss_kib: kib,
        }
    }

    #[test]
    fn stats_are_the_mean_time_and_the_largest_and_mean_peak() {
        let stats = Stats::of(&[sample(10.0, 2048), sample(30.0, 4096)]);
        assert!((stats.mean_ms - 20.0).abs() < 1e-9);
        assert_eq!(stats.peak_kib, 4096);
        assert!((stats.mean_peak_kib - 3072.0).abs() < 1e-9);
        assert_eq!(Stats::of(&[]), Stats::default());
    }

    #[test]
    fn the_table_shows_ratios_and_lists_what_was_left_out() {
        let results = [
            GroupResult {
                name: "fleet corpus".into(),
                builds: 3,
                excluded: vec![("fleets/x".into(), "the YAML documents differ".into())],
                ours: Stats::of(&[sample(5.0, 10240)]),
                theirs: Stats::of(&[sample(20.0, 40960)]),
            },
            GroupResult::new("empty"),
        ];
        let text = render(&results, 5, "bench kustomize-build", "today", &[]);
        assert!(
            text.contains(
                "| fleet corpus | 3 | 1 | 5.0 ms | 20.0 ms | 0.25 | 10.0 / 10.0 MiB | 40.0 / 40.0 MiB | 0.25 |"
            ),
            "{text}"
        );
        assert!(
            text.contains("| empty | 0 | 0 | - | - | - | - | - | - |"),
            "{text}"
        );
        assert!(
            text.contains("- fleets/x: the YAML documents differ\n"),
            "{text}"
        );
        assert!(text.starts_with(BEGIN), "{text}");
    }
}
