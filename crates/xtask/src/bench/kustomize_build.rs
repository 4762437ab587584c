//! `cargo xtask bench kustomize-build`: `driftless kustomize build DIR` (release build) against
//! the pinned `kustomize build DIR` (crates/testkit/tools.toml), both as processes, over three
//! groups: the fleet corpus kustomizations of the conformance suite, our own conformance cases,
//! and one synthetic large overlay written at bench time. Every directory is first built once by
//! each side and the outputs compared as YAML documents; a directory where either side fails or
//! the documents differ is excluded from the timing (a benchmark of wrong output is worthless)
//! and listed. Then K rounds build every kept directory with both tools, alternating which goes
//! first each round so both share the machine's noise. Each build runs under a re-executed
//! `xtask` as its only child, so its peak RSS is the kernel's `ru_maxrss` of that one process
//! and its wall time excludes the wrapper.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::Context as _;
use driftless_kustomize::conformance::cases;

mod synthetic;
mod table;

use table::{GroupResult, Stats};

/// The knobs of one invocation.
pub(super) struct Options {
    pub(super) repetitions: usize,
    pub(super) synthetic_objects: usize,
    pub(super) driftless_binary: Option<PathBuf>,
    pub(super) kustomize_binary: Option<PathBuf>,
}

/// Bases of the synthetic overlay.
const SYNTHETIC_BASES: usize = 8;

/// One build as measured: wall time and the process's peak resident set.
#[derive(Clone, Copy, Debug)]
pub(super) struct Sample {
    pub(super) wall_secs: f64,
    pub(super) max_rss_kib: u64,
}

/// A group of directories under benchmark.
struct Group {
    name: String,
    dirs: Vec<(String, PathBuf)>,
}

pub(super) fn run(opts: Options) -> anyhow::Result<()> {
    anyhow::ensure!(opts.repetitions > 0, "--repetitions must be at least 1");
    // Both binaries first, so no build lands inside a measurement.
    let ours = match opts.driftless_binary.clone() {
        Some(path) => path,
        None => super::build_driftless()?,
    };
    let tool = testkit::gotools::pinned_tool("kustomize")?;
    let theirs = match opts.kustomize_binary.clone() {
        Some(path) => path,
        None => tool
            .ensure(&testkit::Cache::from_env())
            .context("building the kustomize oracle")?
            .path("kustomize"),
    };
    let scratch = tempfile::Builder::new()
        .prefix("bench-kustomize-build-")
        .tempdir()?;
    let groups = groups(scratch.path(), opts.synthetic_objects)?;
    let load_before = load_average();

    let mut results = Vec::new();
    let mut kept: Vec<(usize, PathBuf)> = Vec::new();
    for (index, group) in groups.iter().enumerate() {
        let mut result = GroupResult::new(&group.name);
        for (name, dir) in &group.dirs {
            match same_output(&ours, &theirs, dir) {
                Ok(()) => {
                    kept.push((index, dir.clone()));
                    result.builds += 1;
                }
                Err(why) => result.excluded.push((name.clone(), why)),
            }
        }
        eprintln!(
            "bench: {}: {} directories, {} excluded",
            group.name,
            group.dirs.len(),
            result.excluded.len()
        );
        results.push(result);
    }

    let mut samples: Vec<(Vec<Sample>, Vec<Sample>)> = vec![Default::default(); groups.len()];
    for round in 0..opts.repetitions {
        for (index, dir) in &kept {
            let (mine, peer) = &mut samples[*index];
            // Alternate who goes first, so neither always runs on a warmer cache.
            if round % 2 == 0 {
                mine.push(measure(&ours, dir)?);
                peer.push(measure(&theirs, dir)?);
            } else {
                peer.push(measure(&theirs, dir)?);
                mine.push(measure(&ours, dir)?);
            }
        }
        eprintln!("bench: round {}/{} done", round + 1, opts.repetitions);
    }
    for (result, (mine, peer)) in results.iter_mut().zip(&samples) {
        result.ours = Stats::of(mine);
        result.theirs = Stats::of(peer);
    }

    let mut machine = super::host_info();
    machine.push(("driftless binary".into(), describe(&opts.driftless_binary)));
    machine.push((
        "kustomize binary".into(),
        match &opts.kustomize_binary {
            Some(p) => format!("{} (--kustomize-binary)", p.display()),
            None => format!("{} {} (pinned build)", tool.module, tool.version),
        },
    ));
    machine.push((
        "load average (1/5/15 min) before / after".into(),
        format!("{load_before} / {}", load_average()),
    ));
    machine.push(("niceness".into(), niceness()));
    table::write(&results, opts.repetitions, &machine)?;
    for r in &results {
        eprintln!(
            "bench: {}: {} builds, mean {:.1} ms vs {:.1} ms, peak {:.1} vs {:.1} MiB",
            r.name,
            r.builds,
            r.ours.mean_ms,
            r.theirs.mean_ms,
            super::report::mib(r.ours.peak_kib),
            super::report::mib(r.theirs.peak_kib)
        );
    }
    eprintln!("bench: results written to docs/benchmarks.md");
    Ok(())
}

/// The fleet corpus and our own cases as the conformance suite lists them (cases the oracle
/// never runs left out), and the synthetic overlay written under `scratch`.
fn groups(scratch: &Path, synthetic_objects: usize) -> anyhow::Result<Vec<Group>> {
    let crate_dir = super::repo_root().join("crates/kustomize");
    let mut fleets = Vec::new();
    let mut own = Vec::new();
    for case in cases(&crate_dir) {
        if !case.uses_oracle() {
            continue;
        }
        if case.name.starts_with("fleets/") {
            fleets.push((case.name, case.dir));
        } else {
            own.push((case.name, case.dir));
        }
    }
    let (overlay, objects) = synthetic::write(scratch, synthetic_objects, SYNTHETIC_BASES)?;
    Ok(vec![
        Group {
            name: "fleet corpus".into(),
            dirs: fleets,
        },
        Group {
            name: "own cases".into(),
            dirs: own,
        },
        Group {
            name: format!("synthetic overlay ({objects} objects in {SYNTHETIC_BASES} bases)"),
            dirs: vec![("synthetic".into(), overlay)],
        },
    ])
}

/// Builds `dir` with both tools; `Err` says why it cannot be timed.
fn same_output(ours: &Path, theirs: &Path, dir: &Path) -> Result<(), String> {
    let build = |program: &Path| -> Result<String, String> {
        let out = Command::new(program)
            .args(build_args(program, dir))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running {}: {e}", program.display()))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(stderr.lines().next().unwrap_or_default().to_owned());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (mine, peer) = match (build(ours), build(theirs)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), Ok(_)) => return Err(format!("driftless failed: {e}")),
        (Ok(_), Err(e)) => return Err(format!("kustomize failed: {e}")),
        (Err(_), Err(e)) => return Err(format!("both failed: {e}")),
    };
    if mine == peer {
        return Ok(());
    }
    let documents = |text: &str| serde_saphyr::from_multiple::<serde_json::Value>(text);
    match (documents(&mine), documents(&peer)) {
        (Ok(a), Ok(b)) if a == b => Ok(()),
        (Ok(_), Ok(_)) => Err("the YAML documents differ".into()),
        (Err(e), _) | (_, Err(e)) => Err(format!("output does not parse: {e}")),
    }
}

/// `kustomize build DIR` for both: the driftless binary takes it as a subcommand.
fn build_args(program: &Path, dir: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    if program.file_name().is_some_and(|n| n == "driftless") {
        args.push("kustomize".into());
    }
    args.push("build".into());
    args.push(dir.as_os_str().to_owned());
    args
}

/// One timed build, run by a re-executed `xtask bench measure-process` so the kernel's
/// children-rusage of that wrapper is this build's alone.
fn measure(program: &Path, dir: &Path) -> anyhow::Result<Sample> {
    let wrapper = std::env::current_exe().context("locating the xtask binary")?;
    let out = Command::new(wrapper)
        .args(["bench", "measure-process", "--"])
        .arg(program)
        .args(build_args(program, dir))
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("running the measuring wrapper")?;
    let text = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success(),
        "{} build {} failed during timing: {text}",
        program.display(),
        dir.display()
    );
    parse_sample(&text).with_context(|| format!("reading the wrapper's report {text:?}"))
}

fn parse_sample(text: &str) -> anyhow::Result<Sample> {
    let mut fields = text.split_whitespace();
    let wall_secs: f64 = fields.next().context("wall time")?.parse()?;
    let max_rss_kib: u64 = fields.next().context("max rss")?.parse()?;
    Ok(Sample {
        wall_secs,
        max_rss_kib,
    })
}

/// The wrapper's side: runs `command` with its output discarded and prints
/// `<wall seconds> <peak RSS KiB>`; fails when the command fails.
pub(super) fn measure_process(command: &[OsString]) -> anyhow::Result<()> {
    let (program, args) = command.split_first().context("no command to measure")?;
    let started = Instant::now();
    let status = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .with_context(|| format!("running {}", program.to_string_lossy()))?;
    let wall = started.elapsed();
    anyhow::ensure!(status.success(), "exited with {status}");
    // Linux reports the largest reaped child's peak RSS in KiB; this process has one child.
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)?;
    println!("{:.9} {}", wall.as_secs_f64(), usage.max_rss());
    Ok(())
}

fn describe(binary: &Option<PathBuf>) -> String {
    match binary {
        Some(p) => format!("{} (--driftless-binary)", p.display()),
        None => "cargo build --release -p driftless-cli".into(),
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Both sides are children of this process and inherit its niceness.
fn niceness() -> String {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Field 19 counts from the one after the parenthesised command name.
            let rest = s.rsplit_once(')')?.1.to_owned();
            rest.split_whitespace().nth(16).map(str::to_owned)
        })
        .map(|n| format!("{n} for both sides (inherited from this process)"))
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wrappers_report_reads_back_as_a_sample() {
        let sample = parse_sample("0.012500000 20480\n").expect("parses");
        assert_eq!(sample.max_rss_kib, 20480);
        assert!((sample.wall_secs - 0.0125).abs() < 1e-9);
        assert!(parse_sample("garbage").is_err());
    }

    #[test]
    fn the_driftless_binary_gets_the_kustomize_subcommand_and_the_oracle_does_not() {
        let dir = Path::new("/d");
        assert_eq!(
            build_args(Path::new("/x/driftless"), dir),
            ["kustomize", "build", "/d"].map(OsString::from)
        );
        assert_eq!(
            build_args(Path::new("/x/kustomize"), dir),
            ["build", "/d"].map(OsString::from)
        );
    }
}
