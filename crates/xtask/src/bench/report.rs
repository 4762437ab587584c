//! The blocks of docs/benchmarks.md that `bench kustomize` and `bench helm` write (one
//! [`Block`] each). The raw figures of every N live in a JSON comment inside the block, so a
//! later run that measures only some sides (`--skip`) or another N keeps the rest; the tables
//! are rendered from those figures each time.

use std::collections::BTreeMap;
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::pair::Options;
use super::process::Rss;

/// What one benchmark's block says about itself; the markers follow from `name`.
pub(super) struct Block {
    /// The `cargo xtask bench <name>` that rewrites the block.
    pub(super) name: &'static str,
    pub(super) heading: &'static str,
    /// The workload paragraph, ending in a full stop; the shared method follows it.
    pub(super) workload: &'static str,
    /// The second controller of each pair (`kustomize-controller`).
    pub(super) controller: &'static str,
    /// Flags only that controller gets, the same on both sides.
    pub(super) controller_flags: Vec<String>,
    pub(super) object_kind: &'static str,
    pub(super) source_kind: &'static str,
    /// What the floor leaves out besides status writes and rate limits (`no Git, no build`).
    pub(super) floor_lacks: &'static str,
}

impl Block {
    fn begin(&self) -> String {
        format!(
            "<!-- bench {0}: begin (cargo xtask bench {0} rewrites this block) -->",
            self.name
        )
    }

    fn end(&self) -> String {
        format!("<!-- bench {}: end -->", self.name)
    }

    fn data(&self) -> String {
        format!("<!-- bench {} data: ", self.name)
    }
}

/// One side's figures.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct SideResult {
    /// Seconds from the first Kustomization create until all were Ready.
    pub(super) wall: f64,
    pub(super) source: Rss,
    /// The second controller (kustomize- or helm-controller); older blocks call it `kustomize`.
    #[serde(alias = "kustomize")]
    pub(super) controller: Rss,
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
    /// `short` names the second controller in the flags (`kustomize`, `helm`).
    pub(super) fn new(count: usize, opts: &Options, short: &str) -> Self {
        Self {
            count,
            floor: None,
            driftless: Outcome::Skipped,
            flux: Outcome::Skipped,
            flags: format!(
                "{short} --concurrent={}, source --concurrent={}, --kube-api-qps={} --kube-api-burst={}, Deployment replicas {}, idle RSS after {} s",
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
pub(super) fn write(run: &Run, machine: &[(String, String)], block: &Block) -> anyhow::Result<()> {
    rewrite_block(&block.begin(), &block.end(), |text| {
        let mut data = parse_data(text, block)?;
        merge(&mut data, run, &today());
        render(&data, machine, block)
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

fn parse_data(text: &str, block: &Block) -> anyhow::Result<Data> {
    let marker = block.data();
    let Some(start) = text.find(&marker) else {
        return Ok(Data::new());
    };
    let rest = &text[start + marker.len()..];
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
            controller: Rss::default(),
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

fn render(data: &Data, machine: &[(String, String)], block: &Block) -> anyhow::Result<String> {
    let mut out = String::new();
    out.push_str(&block.begin());
    out.push_str(&format!("\n## {}\n\n", block.heading));
    out.push_str(block.workload);
    out.push_str(&format!(
        " Each side runs its source-controller and {controller} as processes against the same \
         local control plane with the same flags (`--concurrent`, `--kube-api-qps` and \
         `--kube-api-burst` as listed under Runs, `--enable-leader-election=false`, \
         `--watch-all-namespaces=false`, `--log-level=error`{extra}); both \
         sides enforce the QPS and burst client-side with one token bucket per API resource \
         (controller-runtime's per-kind REST clients for Flux, driftless-runtime's rate limiter \
         for driftless). The control plane is the benchmark's own (`bench`, started for the run \
         and stopped after it), its kube-controller-manager at `--kube-api-qps=200`, 20 \
         Deployment and ReplicaSet workers, so rollouts are not paced by its defaults. Wall \
         time runs from the first {object} create (32 creates in flight) until every one is \
         Ready=True at its generation (polled every 250 ms); the {source} is Ready before \
         the clock starts. Peak RSS is the process's `VmHWM`; idle RSS its `VmRSS` after the \
         idle wait that follows the last Ready. The floor applies the same N x 3 objects from \
         one process with driftless-ssa (`ResourceManager::apply_all_staged`, then a kstatus \
         wait polled every 100 ms, per set, as many sets at a time as the {controller}'s \
         `--concurrent`): {floor_lacks}, no status writes, no client-side rate limit. Between \
         runs the namespace is deleted and waited for. Ratios are driftless / Flux (below 1 is \
         better); the issue's target is a wall ratio <= 0.33 and a memory ratio <= 0.25.\n\n",
        controller = block.controller,
        object = block.object_kind,
        source = block.source_kind,
        floor_lacks = block.floor_lacks,
        extra = block
            .controller_flags
            .iter()
            .map(|f| format!(", `{f}`"))
            .collect::<String>(),
    ));
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
            (block.controller, |s| s.controller),
            ("both", |s| Rss {
                peak_kib: s.source.peak_kib + s.controller.peak_kib,
                idle_kib: s.source.idle_kib + s.controller.idle_kib,
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
    out.push_str(&block.data());
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
            controller: Rss {
                peak_kib: 2 * kib,
                idle_kib: kib,
            },
        }
    }

    fn helm_block() -> Block {
        Block {
            name: "helm",
            heading: "helm-controller: N HelmReleases to Ready",
            workload: "Workload.",
            controller: "helm-controller",
            controller_flags: vec!["--http-retry=9".into()],
            object_kind: "HelmRelease",
            source_kind: "HelmRepository",
            floor_lacks: "no chart",
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
        let helm = helm_block();
        let block = render(&data, &[("CPU".into(), "test".into())], &helm).expect("renders");
        assert!(
            block.starts_with("<!-- bench helm: begin (cargo xtask bench helm rewrites this block) -->\n## helm-controller: N HelmReleases to Ready\n\nWorkload. Each side runs its source-controller and helm-controller"),
            "{block}"
        );
        assert!(
            block.contains("`--log-level=error`, `--http-retry=9`)"),
            "{block}"
        );
        assert_eq!(parse_data(&block, &helm).expect("parses"), data);
        assert!(
            block.contains("| 100 | 2.0 s | 6.0 s | 30.0 s | 0.20 | 3.0x | 15.0x |"),
            "{block}"
        );
        assert!(
            block.contains("| 100 | helm-controller | 1.0 | 4.0 | 0.25 |"),
            "{block}"
        );
        assert!(
            block.contains("N=1000 driftless: NOT measured: never Ready;"),
            "{block}"
        );
        assert!(!block.contains("| 1000 | source-controller"), "{block}");
    }

    #[test]
    fn figures_stored_before_the_controller_field_was_generalised_still_parse() {
        let stored = r#"{"wall":7.4,"source":{"peak_kib":1,"idle_kib":2},"kustomize":{"peak_kib":3,"idle_kib":4}}"#;
        let side: SideResult = serde_json::from_str(stored).expect("parses");
        assert_eq!(
            side.controller,
            Rss {
                peak_kib: 3,
                idle_kib: 4
            }
        );
    }
}
