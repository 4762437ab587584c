//! The conformance suite against `helm template` (the pinned oracle), shared
//! by tests/conformance.rs and `cargo xtask conformance helm`.
//!
//! A case is `tests/cases/<name>.case`: a `chart:` line (`own/<dir>` under
//! tests/charts, or `corpus/<dir>` in the shared reference corpus, skipped
//! when absent) and an `args:` line of `helm template` flags, paths relative
//! to tests/. The oracle's output is committed as `<name>.golden` (Helm 3)
//! and `<name>.golden.v4` (Helm 4), a failure as a golden starting with
//! `ERROR:`. `--kube-version 1.30.0` is added unless the case names a
//! version or has a `kube-version: default` line (Helm's own default). Every case runs in both modes ([`HelmVersion`]).

use std::path::{Path, PathBuf};

use crate::{HelmVersion, Options, ValueOptions};

/// The Kubernetes version cases render for unless they say otherwise.
pub const DEFAULT_KUBE_VERSION: &str = "1.30.0";
/// The release name every case uses.
pub const RELEASE: &str = "rel";

/// One conformance case.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub chart: PathBuf,
    pub args: Vec<String>,
    /// The case file's directory's parent (`tests/`), where paths resolve.
    pub base: PathBuf,
    /// Helm 3's output; Helm 4's is beside it (see [`Case::golden_path`]).
    pub golden: PathBuf,
    /// Patterns for what the chart generates at random on every render.
    pub random: Vec<regex::Regex>,
}

/// How a case compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Byte-identical output (or the same error text).
    Identical,
    /// The same documents after YAML parsing, other text.
    Equivalent,
    /// Identical once the values the chart draws at random (listed in
    /// tests/cases/random.txt) are masked on both sides.
    SameButRandom,
    /// Different; the reason.
    Failed(String),
    /// No golden recorded yet.
    NoGolden,
}

/// Every case of the crate at `crate_dir`, by name; cases on the corpus
/// only when it is present.
pub fn cases(crate_dir: &Path) -> Vec<Case> {
    let base = crate_dir.join("tests");
    let corpus = crate_dir.join("../../../shared/reference/corpus/charts");
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(base.join("cases")) else {
        return out;
    };
    let random = random_masks(&base.join("cases/random.txt"));
    let mut paths: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "case"))
        .collect();
    paths.sort();
    for p in paths {
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        let (mut chart, mut args) = (String::new(), String::new());
        let mut helm_default_kube = false;
        for line in text.lines() {
            if let Some(c) = line.strip_prefix("chart:") {
                chart = c.trim().to_string();
            } else if let Some(a) = line.strip_prefix("args:") {
                args = a.trim().to_string();
            } else if line.trim() == "kube-version: default" {
                helm_default_kube = true;
            }
        }
        let chart = if let Some(c) = chart.strip_prefix("corpus/") {
            let dir = corpus.join(c);
            if !dir.exists() {
                continue;
            }
            dir
        } else {
            base.join("charts")
                .join(chart.strip_prefix("own/").unwrap_or(&chart))
        };
        let mut args: Vec<String> = args.split_whitespace().map(str::to_string).collect();
        if !helm_default_kube && !args.iter().any(|a| a == "--kube-version") {
            args.push("--kube-version".into());
            args.push(DEFAULT_KUBE_VERSION.into());
        }
        let name = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push(Case {
            random: random
                .iter()
                .filter(|(n, _)| *n == name)
                .map(|(_, r)| r.clone())
                .collect(),
            golden: p.with_extension("golden"),
            name,
            chart,
            args,
            base: base.clone(),
        });
    }
    out
}

impl Case {
    /// Where the golden of one Helm release is kept.
    pub fn golden_path(&self, version: HelmVersion) -> PathBuf {
        match version {
            HelmVersion::V3 => self.golden.clone(),
            HelmVersion::V4 => self.golden.with_extension("golden.v4"),
        }
    }

    /// Our rendering as Helm 3: the output, or the error as `helm` prints
    /// it on stderr.
    pub fn ours(&self) -> Result<String, String> {
        self.ours_as(HelmVersion::V3)
    }

    /// Our rendering as the given Helm release.
    pub fn ours_as(&self, version: HelmVersion) -> Result<String, String> {
        let (values, mut opts) = self.parse_args()?;
        opts.release_name = RELEASE.into();
        opts.helm_version = version;
        let render = || -> Result<String, crate::Error> {
            let user = values.merge_as(opts.helm_version)?;
            let chart = crate::load(&self.chart)?;
            crate::template(chart, user, &opts)
        };
        // The oracle runs in tests/ with relative paths; we run anywhere
        // with the same paths made absolute: show them as the oracle saw them.
        let base = format!("{}/", self.base.display());
        render().map_err(|e| e.helm_cli_text().replace(&base, ""))
    }

    fn parse_args(&self) -> Result<(ValueOptions, Options), String> {
        let mut v = ValueOptions::default();
        let mut o = Options::default();
        let mut it = self.args.iter();
        while let Some(a) = it.next() {
            let mut val = || {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("flag {a} needs a value"))
            };
            match a.as_str() {
                "-f" | "--values" => v.value_files.push(self.base.join(val()?)),
                "--set" => v.values.push(val()?),
                "--set-string" => v.string_values.push(val()?),
                "--set-file" => {
                    // Helm resolves the file against its working directory,
                    // which the oracle runs in: tests/.
                    let arg = val()?;
                    let resolved = match arg.split_once('=') {
                        Some((k, p)) => format!("{k}={}", self.base.join(p).display()),
                        None => arg,
                    };
                    v.file_values.push(resolved)
                }
                "-n" | "--namespace" => o.namespace = val()?,
                "--kube-version" => o.kube_version = Some(val()?),
                "-a" | "--api-versions" => o.api_versions.push(val()?),
                "--include-crds" => o.include_crds = true,
                "--skip-tests" => o.skip_tests = true,
                "--no-hooks" => o.no_hooks = true,
                "--skip-schema-validation" => o.skip_schema_validation = true,
                other => return Err(format!("conformance runner: unknown flag {other}")),
            }
        }
        Ok((v, o))
    }

    /// The recorded Helm 3 result, `Err` holding its stderr.
    pub fn golden(&self) -> Option<Result<String, String>> {
        self.golden_as(HelmVersion::V3)
    }

    /// The recorded result of the given Helm release.
    pub fn golden_as(&self, version: HelmVersion) -> Option<Result<String, String>> {
        let text = std::fs::read_to_string(self.golden_path(version)).ok()?;
        Some(match text.strip_prefix("ERROR:\n") {
            Some(e) => Err(e.to_string()),
            None => Ok(text),
        })
    }

    /// Runs the Helm 3 oracle binary and records its result as the golden.
    pub fn record(&self, helm: &Path, scratch: &Path) -> std::io::Result<()> {
        self.record_as(helm, scratch, HelmVersion::V3)
    }

    /// Runs the oracle binary of the given Helm release and records its
    /// result as that release's golden.
    pub fn record_as(
        &self,
        helm: &Path,
        scratch: &Path,
        version: HelmVersion,
    ) -> std::io::Result<()> {
        let out = std::process::Command::new(helm)
            .arg("template")
            .arg(RELEASE)
            .arg(&self.chart)
            .args(&self.args)
            .current_dir(&self.base)
            .env("HELM_CACHE_HOME", scratch.join("cache"))
            .env("HELM_CONFIG_HOME", scratch.join("config"))
            .env("HELM_DATA_HOME", scratch.join("data"))
            .output()?;
        let text = if out.status.success() {
            String::from_utf8_lossy(&out.stdout).into_owned()
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            // Helm logs warnings to stderr before the error; keep the error.
            let err = err.find("Error: ").map_or(&*err, |i| &err[i..]);
            format!("ERROR:\n{}\n", err.trim_end())
        };
        std::fs::write(self.golden_path(version), text)
    }

    /// Compares our rendering with the Helm 3 golden.
    pub fn outcome(&self) -> Outcome {
        self.outcome_as(HelmVersion::V3)
    }

    /// Compares our rendering as the given Helm release with its golden.
    pub fn outcome_as(&self, version: HelmVersion) -> Outcome {
        let Some(want) = self.golden_as(version) else {
            return Outcome::NoGolden;
        };
        let got = self.ours_as(version);
        match (&want, &got) {
            (Ok(w), Ok(g)) if w == g => Outcome::Identical,
            (Ok(w), Ok(g)) if documents(w) == documents(g) => Outcome::Equivalent,
            (Ok(w), Ok(g)) if !self.random.is_empty() && self.mask(w) == self.mask(g) => {
                Outcome::SameButRandom
            }
            (Ok(w), Ok(g)) => Outcome::Failed(first_difference(w, g)),
            (Err(w), Err(g)) if w.trim_end() == g.trim_end() => Outcome::Identical,
            // Helm's schema library lists several failures in Go map order,
            // which changes from run to run: the same lines in any order pass.
            (Err(w), Err(g)) if sorted_lines(w) == sorted_lines(g) => Outcome::Equivalent,
            (Err(w), Err(g)) => Outcome::Failed(format!("helm: {w}\nours: {g}")),
            (Ok(_), Err(g)) => Outcome::Failed(format!("helm rendered, ours failed: {g}")),
            (Err(w), Ok(_)) => Outcome::Failed(format!("helm failed, ours rendered: {w}")),
        }
    }
}

impl Case {
    fn mask(&self, text: &str) -> String {
        self.random.iter().fold(text.to_string(), |t, re| {
            re.replace_all(&t, "<random>").into_owned()
        })
    }
}

/// `name: regex` lines of tests/cases/random.txt.
fn random_masks(path: &Path) -> Vec<(String, regex::Regex)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (name, re) = l.split_once(": ")?;
            Some((name.to_string(), regex::Regex::new(re).ok()?))
        })
        .collect()
}

/// The output as (source header, parsed document) pairs.
fn documents(text: &str) -> Vec<(String, serde_json::Value)> {
    crate::manifest::split_documents(text)
        .into_iter()
        .map(|d| {
            let source = d
                .lines()
                .next()
                .filter(|l| l.starts_with("# Source:"))
                .unwrap_or_default()
                .to_string();
            let parsed = crate::values::parse_yaml(&d).unwrap_or(serde_json::Value::String(d));
            (source, parsed)
        })
        .collect()
}

fn sorted_lines(text: &str) -> Vec<&str> {
    let mut l: Vec<&str> = text.trim_end().lines().collect();
    l.sort_unstable();
    l
}

fn first_difference(want: &str, got: &str) -> String {
    for (i, (w, g)) in want.lines().zip(got.lines()).enumerate() {
        if w != g {
            return format!("line {}:\n  helm: {w}\n  ours: {g}", i + 1);
        }
    }
    format!(
        "lengths differ: helm {} lines, ours {} lines",
        want.lines().count(),
        got.lines().count()
    )
}

/// Counts over a suite run.
#[derive(Debug, Default)]
pub struct Summary {
    pub version: HelmVersion,
    pub identical: Vec<String>,
    pub equivalent: Vec<String>,
    pub same_but_random: Vec<String>,
    pub failed: Vec<(String, String)>,
}

impl Summary {
    /// The run against the Helm 3 goldens.
    pub fn of(cases: &[Case]) -> Summary {
        Summary::of_as(cases, HelmVersion::V3)
    }

    /// The run against the goldens of the given Helm release.
    pub fn of_as(cases: &[Case], version: HelmVersion) -> Summary {
        let mut s = Summary {
            version,
            ..Summary::default()
        };
        for c in cases {
            match c.outcome_as(version) {
                Outcome::Identical => s.identical.push(c.name.clone()),
                Outcome::Equivalent => s.equivalent.push(c.name.clone()),
                Outcome::SameButRandom => s.same_but_random.push(c.name.clone()),
                Outcome::Failed(why) => s.failed.push((c.name.clone(), why)),
                Outcome::NoGolden => s.failed.push((c.name.clone(), "no golden recorded".into())),
            }
        }
        s
    }

    /// `N passed, M failed (K byte-identical, R identical but for random values)`.
    pub fn headline(&self) -> String {
        let passed = self.identical.len() + self.equivalent.len() + self.same_but_random.len();
        format!(
            "helm {}: {passed} passed, {} failed ({} byte-identical, {} identical but for random values)",
            match self.version {
                HelmVersion::V3 => "v3",
                HelmVersion::V4 => "v4",
            },
            self.failed.len(),
            self.identical.len(),
            self.same_but_random.len()
        )
    }
}
