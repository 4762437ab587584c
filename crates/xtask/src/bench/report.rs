//! The `bench kustomize` block of docs/benchmarks.md. The raw figures of every N live in a JSON
//! comment inside the block, so a later run that measures only some sides (`--skip`) or
//! another N keeps the rest; the tables are rendered from those figures each time.

use std::collections::BTreeMap;
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::kustomize::Options;
use super::process::Rss;

const BEGIN: &str =
    "<!-- bench kustomize: begin (cargo xtask bench kustomize rewrites this block) -->";
const END: &str = "<!-- bench kustomize: end -->";
const DATA: &str = "<!-- bench kustomize data: ";

/// One side's figures.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct SideResult {
    /// Seconds from the first Kustomization create until all were Ready.
    pub(super) wall: f64,
    pub(super) source: Rss,
    pub(super) kustomize: Rss,
}

/// What became of one side in this run.
pub(super) enum Outcome {
    Measured(SideResult),
    Failed(String),
    Skipped,
}

/// One run for one N, as measured now.
pub(super) struct Run {
    pub(super) count: usize,
    pub(super) floor: Option<f64>,
    pub(super) driftless: Outcome,
    pub(super) flux: Outcome,
    flags: String,
    command: String,
}

impl Run {
    pub(super) fn new(count: usize, opts: &Options) -> Self {
        Self {
            count,
            floor: None,
            driftless: Outcome::Skipped,
            flux: Outcome::Skipped,
            flags: format!(
                "kustomize --concurrent={}, source --concurrent={}, --kube-api-qps={} --kube-api-burst={}, Deployment replicas {}, idle RSS after {} s",
                opts.concurrent,
                opts.source_concurrent,
                opts.qps,
                opts.burst,
                opts.replicas,
                opts.idle.as_secs()
            ),
            command: std::env::args().skip(1).collect::<Vec<_>>().join(" "),
        }
    }
}

/// A side as stored: figures or why there are none, and when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Stored {
    date: String,
    command: String,
    flags: String,
    result: Result<SideResult, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Row {
    floor: Option<Stored>,
    driftless: Option<Stored>,
    flux: Option<Stored>,
}

type Data = BTreeMap<usize, Row>;

/// Which controller's memory a table row shows.
type Pick = fn(&SideResult) -> Rss;

/// Merges `run` into the block of docs/benchmarks.md and rewrites it.
pub(super) fn write(run: &Run, machine: &[(String, String)]) -> anyhow::Result<()> {
    rewrite_block(BEGIN, END, |block| {
        let mut data = parse_data(block)?;
        merge(&mut data, run, &today());
        render(&data, machine)
    })
}

/// Replaces the block of docs/benchmarks.md from `begin` to `end` with what `render` makes of
/// the old block (empty when there is none; a new block goes at the end). The rendered text
/// starts with `begin` and stops before `end`.
pub(super) fn rewrite_block(
    begin: &str,
    end: &str,
    render: impl FnOnce(&str) -> anyhow::Result<String>,
) -> anyhow::Result<()> {
    let path = super::repo_root().join("docs/benchmarks.md");
    let existing = std::fs::read_to_string(&path).unwrap_or_default();
    let (before, block, after) = match (existing.find(begin), existing.find(end)) {
        (Some(b), Some(e)) if b < e => (
            existing[..b].to_owned(),
            existing[b..e].to_owned(),
            existing[e + end.len()..].to_owned(),
        ),
        _ => (
            format!("{}\n\n", existing.trim_end()),
            String::new(),
            "\n".to_owned(),
        ),
    };
    let rendered = render(&block)?;
    std::fs::write(&path, format!("{before}{rendered}{end}{after}"))?;
    Ok(())
}

pub(super) fn today() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn parse_data(block: &str) -> anyhow::Result<Data> {
    let Some(start) = block.find(DATA) else {
        return Ok(Data::new());
    };
    let rest = &block[start + DATA.len()..];
    let end = rest
        .find(" -->")
        .ok_or_else(|| anyhow::anyhow!("unterminated data comment in docs/benchmarks.md"))?;
    Ok(serde_json::from_str(&rest[..end])?)
}

fn merge(data: &mut Data, run: &Run, date: &str) {
    let row = data.entry(run.count).or_default();
    let stored = |result: Result<SideResult, String>| Stored {
        date: date.to_owned(),
        command: run.command.clone(),
        flags: run.flags.clone(),
        result,
    };
    if let Some(wall) = run.floor {
        row.floor = Some(stored(Ok(SideResult {
            wall,
            source: Rss::default(),
            kustomize: Rss::default(),
        })));
    }
    for (outcome, slot) in [
        (&run.driftless, &mut row.driftless),
        (&run.flux, &mut row.flux),
    ] {
        match outcome {
            Outcome::Measured(m) => *slot = Some(stored(Ok(*m))),
            Outcome::Failed(why) => *slot = Some(stored(Err(why.clone()))),
            Outcome::Skipped => {}
        }
    }
}

pub(super) fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn measured(side: &Option<Stored>) -> Option<&SideResult> {
    side.as_ref().and_then(|s| s.result.as_ref().ok())
}

fn cell_secs(side: Option<&SideResult>) -> String {
    side.map_or_else(|| "-".to_owned(), |s| format!("{:.1} s", s.wall))
}

pub(super) fn ratio(ours: Option<f64>, theirs: Option<f64>) -> String {
    match (ours, theirs) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".to_owned(),
    }
}

fn multiple(ours: Option<f64>, floor: Option<f64>) -> String {
    match (ours, floor) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.1}x", a / b),
        _ => "-".to_owned(),
    }
}

fn render(data: &Data, machine: &[(String, String)]) -> anyhow::Result<String> {
    let mut out = String::new();
    out.push_str(BEGIN);
    out.push_str("\n## kustomize-controller: N Kustomizations to Ready\n\n");
    out.push_str(
        "The workload of fluxcd/flux-benchmark's Kustomization benchmark, on a loopback Git server \
         instead of an OCI registry: ONE GitRepository (testkit's git http-backend) holding a \
         small app (a Deployment scaled to zero, a headless Service, a ConfigMap, \
         listed by a kustomization.yaml), and N Kustomizations in one namespace, each applying it into that \
         namespace with `postBuild.substitute` giving its objects their own names \
         (`interval: 60m`, `retryInterval: 2m`, `prune: true`, `wait: true`, `timeout: 1m`). Each \
         side runs its source-controller and kustomize-controller as processes against the same \
         local control plane with the same flags (`--concurrent` 10 for source and 20 for \
         kustomize, `--kube-api-qps=50 --kube-api-burst=300`, `--enable-leader-election=false`, \
         `--watch-all-namespaces=false`, `--no-remote-bases=true`, `--log-level=error`); both \
         sides enforce the QPS and burst client-side with one token bucket per API resource \
         (controller-runtime's per-kind REST clients for Flux, driftless-runtime's rate limiter \
         for driftless). The control plane is the benchmark's own (`bench`, started for the run \
         and stopped after it), its kube-controller-manager at `--kube-api-qps=200`, 20 \
         Deployment and ReplicaSet workers, so rollouts are not paced by its defaults. Wall \
         time runs from the first Kustomization create (32 creates in flight) until every one is \
         Ready=True at its generation (polled every 250 ms); the GitRepository is Ready before \
         the clock starts. Peak RSS is the process's `VmHWM`; idle RSS its `VmRSS` after the \
         idle wait that follows the last Ready. The floor applies the same N x 3 objects from \
         one process with driftless-ssa (`ResourceManager::apply_all_staged`, then a kstatus \
         wait polled every 100 ms, per set, 20 sets at a time): no Git, no build, no status \
         writes, no client-side rate limit. Between runs the namespace is deleted and waited for. Ratios are driftless / \
         Flux (below 1 is better); the issue's target is a wall ratio <= 0.33 and a memory \
         ratio <= 0.25.\n\n",
    );
    out.push_str("Time:\n\n");
    out.push_str(
        "| N | floor (SSA) | driftless | Flux | driftless / Flux | driftless / floor | Flux / floor |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|\n");
    for (n, row) in data {
        let (ours, theirs, floor) = (
            measured(&row.driftless),
            measured(&row.flux),
            measured(&row.floor).map(|f| f.wall),
        );
        out.push_str(&format!(
            "| {n} | {} | {} | {} | {} | {} | {} |\n",
            floor.map_or_else(|| "-".to_owned(), |f| format!("{f:.1} s")),
            cell_secs(ours),
            cell_secs(theirs),
            ratio(ours.map(|s| s.wall), theirs.map(|s| s.wall)),
            multiple(ours.map(|s| s.wall), floor),
            multiple(theirs.map(|s| s.wall), floor),
        ));
    }
    out.push_str("\nMemory (MiB, peak / idle):\n\n");
    out.push_str(
        "| N | controller | driftless peak | Flux peak | peak ratio | driftless idle | Flux idle | idle ratio |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|\n");
    for (n, row) in data {
        let (ours, theirs) = (measured(&row.driftless), measured(&row.flux));
        if ours.is_none() && theirs.is_none() {
            continue;
        }
        let pick: [(&str, Pick); 3] = [
            ("source-controller", |s| s.source),
            ("kustomize-controller", |s| s.kustomize),
            ("both", |s| Rss {
                peak_kib: s.source.peak_kib + s.kustomize.peak_kib,
                idle_kib: s.source.idle_kib + s.kustomize.idle_kib,
            }),
        ];
        for (name, get) in pick {
            let (a, b) = (ours.map(get), theirs.map(get));
            let show = |r: Option<Rss>, peak: bool| {
                r.map_or_else(
                    || "-".to_owned(),
                    |r| format!("{:.1}", mib(if peak { r.peak_kib } else { r.idle_kib })),
                )
            };
            out.push_str(&format!(
                "| {n} | {name} | {} | {} | {} | {} | {} | {} |\n",
                show(a, true),
                show(b, true),
                ratio(a.map(|r| r.peak_kib as f64), b.map(|r| r.peak_kib as f64)),
                show(a, false),
                show(b, false),
                ratio(a.map(|r| r.idle_kib as f64), b.map(|r| r.idle_kib as f64)),
            ));
        }
    }
    out.push_str("\nRuns:\n\n");
    for (n, row) in data {
        for (side, stored) in [
            ("floor", &row.floor),
            ("driftless", &row.driftless),
            ("Flux", &row.flux),
        ] {
            let Some(s) = stored else { continue };
            let outcome = match &s.result {
                Ok(_) => "measured".to_owned(),
                Err(why) => format!(
                    "NOT measured: {}",
                    why.lines().next().unwrap_or_default().replace('|', "/")
                ),
            };
            out.push_str(&format!(
                "- N={n} {side}: {outcome}; {}; `cargo xtask {}`; {}\n",
                s.date, s.command, s.flags
            ));
        }
    }
    out.push_str("\nMachine (last run):\n\n");
    for (k, v) in machine {
        out.push_str(&format!("- {k}: {v}\n"));
    }
    out.push('\n');
    out.push_str(DATA);
    out.push_str(&serde_json::to_string(data)?);
    out.push_str(" -->\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(wall: f64, kib: u64) -> SideResult {
        SideResult {
            wall,
            source: Rss {
                peak_kib: kib,
                idle_kib: kib / 2,
            },
            kustomize: Rss {
                peak_kib: 2 * kib,
                idle_kib: kib,
            },
        }
    }

    fn run(count: usize, floor: Option<f64>, driftless: Outcome, flux: Outcome) -> Run {
        Run {
            count,
            floor,
            driftless,
            flux,
            flags: "flags".into(),
            command: "bench kustomize".into(),
        }
    }

    #[test]
    fn a_run_that_skips_a_side_keeps_that_sides_earlier_figures() {
        let mut data = Data::new();
        merge(
            &mut data,
            &run(
                100,
                Some(2.0),
                Outcome::Skipped,
                Outcome::Measured(side(30.0, 1024)),
            ),
            "day one",
        );
        merge(
            &mut data,
            &run(
                100,
                None,
                Outcome::Measured(side(6.0, 512)),
                Outcome::Skipped,
            ),
            "day two",
        );
        let row = &data[&100];
        assert_eq!(measured(&row.flux).map(|s| s.wall), Some(30.0));
        assert_eq!(measured(&row.driftless).map(|s| s.wall), Some(6.0));
        assert_eq!(measured(&row.floor).map(|s| s.wall), Some(2.0));
        assert_eq!(row.flux.as_ref().map(|s| s.date.as_str()), Some("day one"));
    }

    #[test]
    fn the_rendered_block_carries_its_figures_back_and_shows_the_ratios() {
        let mut data = Data::new();
        merge(
            &mut data,
            &run(
                100,
                Some(2.0),
                Outcome::Measured(side(6.0, 512)),
                Outcome::Measured(side(30.0, 2048)),
            ),
            "today",
        );
        merge(
            &mut data,
            &run(
                1000,
                None,
                Outcome::Failed("never Ready\nlogs".into()),
                Outcome::Skipped,
            ),
            "today",
        );
        let block = render(&data, &[("CPU".into(), "test".into())]).expect("renders");
        assert_eq!(parse_data(&block).expect("parses"), data);
        assert!(
            block.contains("| 100 | 2.0 s | 6.0 s | 30.0 s | 0.20 | 3.0x | 15.0x |"),
            "{block}"
        );
        assert!(
            block.contains("| 100 | kustomize-controller | 1.0 | 4.0 | 0.25 |"),
            "{block}"
        );
        assert!(
            block.contains("N=1000 driftless: NOT measured: never Ready;"),
            "{block}"
        );
        assert!(!block.contains("| 1000 | source-controller"), "{block}");
    }
}
