//! The conformance suite's cases and golden files, shared by the test
//! (tests/conformance.rs, which reads the committed goldens, so CI needs no
//! Go) and `cargo xtask conformance kustomize` (which rewrites them from the
//! pinned `kustomize` binary).
//!
//! A case is a directory: our own under tests/cases/, or a kustomization of
//! the reference fleet corpus (its golden files live under tests/fleets/,
//! mirroring the corpus layout). The golden is `expected.yaml` (the oracle's
//! stdout) or `expected-error` (its stderr when it fails). Markers in a case
//! directory: `expect-error` (text our error must contain), `skip-oracle` (the
//! oracle is never run, e.g. it would fetch over the network; its text says
//! why), `known-gap` (we are known to differ; its text says how).

use std::path::{Path, PathBuf};

/// One conformance case.
#[derive(Debug, Clone)]
pub struct Case {
    /// `cases/<dir>` or `fleets/<path in the corpus>`.
    pub name: String,
    /// The directory built.
    pub dir: PathBuf,
    /// Where its golden files are.
    pub golden: PathBuf,
}

/// What the oracle did with a case, as committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Golden {
    Output(String),
    Error(String),
}

/// How our build compares with the golden.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Same YAML documents; `bytes` says whether the text is identical too.
    Same {
        bytes: bool,
    },
    /// Both failed (the oracle, or the refusal a `skip-oracle` case expects).
    BothFailed(String),
    /// Listed as a known gap and still differing.
    KnownGap(String),
    Differ(String),
}

impl Verdict {
    pub fn passed(&self) -> bool {
        matches!(self, Verdict::Same { .. } | Verdict::BothFailed(_))
    }
}

const OUTPUT: &str = "expected.yaml";
const ERROR: &str = "expected-error";
/// Stands for the case directory in committed error texts, which would
/// otherwise hold the absolute path of the checkout that made them.
const DIR_MARK: &str = "$CASE_DIR";
/// Stands for the repository root in the same texts.
const REPO_MARK: &str = "$REPO";

/// Our cases under `<crate>/tests/cases` and the fleet kustomizations (when
/// the reference corpus is present next to the repository), in name order.
pub fn cases(crate_dir: &Path) -> Vec<Case> {
    let own = crate_dir.join("tests/cases");
    let mut out: Vec<Case> = subdirs(&own)
        .into_iter()
        .map(|dir| Case {
            name: format!("cases/{}", file_name(&dir)),
            golden: dir.clone(),
            dir,
        })
        .collect();
    let fleets = fleet_root(crate_dir);
    for dir in fleet_dirs(&fleets) {
        let rel = dir.strip_prefix(&fleets).unwrap_or(&dir).to_path_buf();
        out.push(Case {
            name: format!("fleets/{}", rel.display()),
            golden: crate_dir.join("tests/fleets").join(&rel),
            dir,
        });
    }
    out
}

/// The reference fleet repositories (outside this repository).
pub fn fleet_root(crate_dir: &Path) -> PathBuf {
    crate_dir.join("../../../shared/reference/corpus/fleets")
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// Fleet kustomizations without remote bases (those would need the network).
fn fleet_dirs(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for path in entries.flatten().map(|e| e.path()) {
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "kustomization.yaml") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                if !text.contains("://") && !text.contains("github.com/") {
                    out.push(dir.clone());
                }
            }
        }
    }
    out.sort();
    out
}

impl Case {
    /// Whether the oracle is run for this case.
    pub fn uses_oracle(&self) -> bool {
        !self.dir.join("skip-oracle").is_file()
    }

    fn marker(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.dir.join(name))
            .ok()
            .map(|t| t.trim().to_string())
    }

    /// The committed golden, if any.
    pub fn golden(&self) -> Option<Golden> {
        if let Ok(text) = std::fs::read_to_string(self.golden.join(OUTPUT)) {
            return Some(Golden::Output(text));
        }
        std::fs::read_to_string(self.golden.join(ERROR))
            .ok()
            .map(Golden::Error)
    }

    /// Commits the oracle's result: its stdout when it succeeded, else its
    /// stderr with the case directory replaced by a marker.
    pub fn write_golden(&self, success: bool, stdout: &[u8], stderr: &[u8]) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.golden)?;
        let (keep, drop, text) = if success {
            (OUTPUT, ERROR, String::from_utf8_lossy(stdout).into_owned())
        } else {
            let raw = String::from_utf8_lossy(stderr);
            (ERROR, OUTPUT, self.unplace(&raw))
        };
        remove_if_present(&self.golden.join(drop))?;
        std::fs::write(self.golden.join(keep), text)
    }

    /// Removes golden files (for cases the oracle does not run).
    pub fn clear_golden(&self) -> std::io::Result<()> {
        remove_if_present(&self.golden.join(OUTPUT))?;
        remove_if_present(&self.golden.join(ERROR))
    }

    /// The oracle's error without what differs between checkouts and runs:
    /// the case directory, the repository root and Go pointer values.
    fn unplace(&self, text: &str) -> String {
        let real = self.dir.canonicalize().unwrap_or_else(|_| self.dir.clone());
        let mut out = text
            .replace(&*real.to_string_lossy(), DIR_MARK)
            .replace(&*self.dir.to_string_lossy(), DIR_MARK);
        if let Some(repo) = real.ancestors().find(|a| a.join("Cargo.lock").is_file()) {
            out = out.replace(&*repo.to_string_lossy(), REPO_MARK);
        }
        match regex::Regex::new("0x[0-9a-f]{6,}") {
            Ok(pointer) => pointer.replace_all(&out, "0xPOINTER").into_owned(),
            Err(_) => out,
        }
    }

    /// Builds the case with our code and compares with the golden.
    pub fn check(&self) -> Verdict {
        let ours = crate::build(&self.dir).map_err(|e| e.to_string());
        let verdict = if self.uses_oracle() {
            match self.golden() {
                None => Verdict::Differ(format!(
                    "no golden file in {} (run `cargo xtask conformance kustomize`)",
                    self.golden.display()
                )),
                Some(golden) => compare(&golden, ours),
            }
        } else {
            match ours {
                Ok(_) => Verdict::Differ("we succeeded where a refusal is expected".into()),
                Err(e) => Verdict::BothFailed(e),
            }
        };
        let verdict = match (self.marker("expect-error"), verdict) {
            (Some(want), Verdict::BothFailed(ours)) if !ours.contains(&want) => {
                Verdict::Differ(format!("our error {ours:?} does not say {want:?}"))
            }
            (Some(_), Verdict::Same { .. }) => {
                Verdict::Differ("both succeeded where a failure is expected".into())
            }
            (_, v) => v,
        };
        match (self.marker("known-gap"), verdict) {
            (Some(why), Verdict::Differ(_)) => Verdict::KnownGap(why),
            (Some(_), v) if v.passed() => {
                Verdict::Differ("now matches: delete its known-gap file".into())
            }
            (_, v) => v,
        }
    }
}

fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn compare(golden: &Golden, ours: Result<String, String>) -> Verdict {
    match (golden, ours) {
        (Golden::Output(theirs), Ok(ours)) if *theirs == ours => Verdict::Same { bytes: true },
        (Golden::Output(theirs), Ok(ours)) => match (documents(theirs), documents(&ours)) {
            (Ok(a), Ok(b)) if a == b => Verdict::Same { bytes: false },
            (Err(e), _) => Verdict::Differ(format!("the golden file does not parse: {e}")),
            (_, Err(e)) => Verdict::Differ(format!("our output does not parse: {e}")),
            _ => Verdict::Differ(first_difference(theirs, &ours)),
        },
        (Golden::Error(_), Err(ours)) => Verdict::BothFailed(ours),
        (Golden::Output(_), Err(e)) => {
            Verdict::Differ(format!("kustomize succeeded, we failed: {e}"))
        }
        (Golden::Error(theirs), Ok(_)) => Verdict::Differ(format!(
            "kustomize failed ({}), we succeeded",
            theirs.trim()
        )),
    }
}

/// The YAML documents of a build's output, as data (style and key order of
/// the text set aside).
fn documents(text: &str) -> Result<Vec<serde_json::Value>, crate::yaml::YamlError> {
    Ok(crate::yaml::parse_documents(text)?
        .iter()
        .map(|d| {
            d.as_ref()
                .map_or(serde_json::Value::Null, crate::yaml::to_json)
        })
        .collect())
}

fn first_difference(want: &str, got: &str) -> String {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let at = w
        .iter()
        .zip(&g)
        .position(|(a, b)| a != b)
        .unwrap_or(w.len().min(g.len()));
    let window = |lines: &[&str]| {
        let from = at.saturating_sub(3).min(lines.len());
        lines[from..(at + 3).min(lines.len())].join("\n")
    };
    format!(
        "first difference at line {}:\n--- kustomize\n{}\n--- driftless\n{}",
        at + 1,
        window(&w),
        window(&g)
    )
}

/// The suite's result over many cases.
#[derive(Debug, Default)]
pub struct Summary {
    pub passed: usize,
    /// Passed cases whose output is byte-identical to the oracle's.
    pub identical: usize,
    /// Passed cases with the same documents in different text.
    pub equivalent: Vec<String>,
    /// Passed cases where both builds failed.
    pub both_failed: usize,
    pub failed: Vec<(String, String)>,
    pub known_gaps: Vec<(String, String)>,
}

impl Summary {
    pub fn of(cases: &[Case]) -> Summary {
        let mut s = Summary::default();
        for case in cases {
            match case.check() {
                Verdict::Same { bytes: true } => {
                    s.passed += 1;
                    s.identical += 1;
                }
                Verdict::Same { bytes: false } => {
                    s.passed += 1;
                    s.equivalent.push(case.name.clone());
                }
                Verdict::BothFailed(_) => {
                    s.passed += 1;
                    s.both_failed += 1;
                }
                Verdict::KnownGap(why) => s.known_gaps.push((case.name.clone(), why)),
                Verdict::Differ(why) => s.failed.push((case.name.clone(), why)),
            }
        }
        s
    }

    /// `N passed, M failed`, then the byte-identical count and known gaps.
    pub fn headline(&self) -> String {
        format!(
            "{} passed, {} failed ({} byte-identical to kustomize's output, {} the same \
             documents in other text, {} failing in both; {} of the failures are known gaps)",
            self.passed,
            self.failed.len() + self.known_gaps.len(),
            self.identical,
            self.equivalent.len(),
            self.both_failed,
            self.known_gaps.len()
        )
    }
}
