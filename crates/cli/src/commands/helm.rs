//! `driftless helm template <release> <chart>`: what `helm template` prints,
//! rendered by driftless-helm instead of the Go binary.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{CommandError, write_output};

/// Arguments of `driftless helm`.
#[derive(Debug, Args)]
pub struct HelmArgs {
    #[command(subcommand)]
    pub action: HelmAction,
}

/// What `driftless helm` does.
#[derive(Debug, Subcommand)]
pub enum HelmAction {
    /// Render a chart's manifests as `helm template` prints them.
    Template(TemplateArgs),
}

/// `helm template`'s flags that change what it prints.
#[derive(Debug, Args)]
pub struct TemplateArgs {
    /// The release name.
    pub release: String,
    /// A chart directory or packaged `.tgz`.
    pub chart: PathBuf,
    /// Values files, merged in order.
    #[arg(short = 'f', long = "values")]
    pub values: Vec<PathBuf>,
    /// `key=value` pairs (typed), after every values file.
    #[arg(long = "set")]
    pub set: Vec<String>,
    /// `key=value` pairs kept as strings.
    #[arg(long = "set-string")]
    pub set_string: Vec<String>,
    /// `key=path` pairs: the file's content is the value.
    #[arg(long = "set-file")]
    pub set_file: Vec<PathBuf>,
    /// The release namespace.
    #[arg(short = 'n', long = "namespace", default_value = "default")]
    pub namespace: String,
    /// The Kubernetes version `.Capabilities.KubeVersion` reports.
    #[arg(long = "kube-version")]
    pub kube_version: Option<String>,
    /// Extra API versions for `.Capabilities.APIVersions`.
    #[arg(short = 'a', long = "api-versions")]
    pub api_versions: Vec<String>,
    /// Print the charts' crds/ files first.
    #[arg(long = "include-crds")]
    pub include_crds: bool,
    /// Leave out test hooks.
    #[arg(long = "skip-tests")]
    pub skip_tests: bool,
    /// Leave out every hook.
    #[arg(long = "no-hooks")]
    pub no_hooks: bool,
    /// Do not validate values against values.schema.json.
    #[arg(long = "skip-schema-validation")]
    pub skip_schema_validation: bool,
    /// Reproduce this Helm major version's output (3 or 4).
    #[arg(long = "helm-version", default_value = "3")]
    pub helm_version: driftless_helm::HelmVersion,
}

/// The exit status helm uses for every failure.
const FAILURE: i32 = 1;

/// Runs the action; a failure prints `Error: <message>` on stderr and exits 1, as helm does.
pub fn run(args: &HelmArgs) -> Result<(), CommandError> {
    let HelmAction::Template(t) = &args.action;
    match template(t) {
        Ok(text) => write_output(&mut std::io::stdout().lock(), &text),
        Err(message) => {
            let _ = writeln!(std::io::stderr().lock(), "{message}");
            std::process::exit(FAILURE)
        }
    }
}

/// The rendered output, or the text helm would print on stderr.
pub fn template(t: &TemplateArgs) -> Result<String, String> {
    let values = driftless_helm::ValueOptions {
        value_files: t.values.clone(),
        values: t.set.clone(),
        string_values: t.set_string.clone(),
        file_values: t.set_file.iter().map(|p| p.display().to_string()).collect(),
    };
    let opts = driftless_helm::Options {
        release_name: t.release.clone(),
        namespace: t.namespace.clone(),
        kube_version: t.kube_version.clone(),
        api_versions: t.api_versions.clone(),
        include_crds: t.include_crds,
        skip_tests: t.skip_tests,
        no_hooks: t.no_hooks,
        skip_schema_validation: t.skip_schema_validation,
        helm_version: t.helm_version,
        ..driftless_helm::Options::default()
    };
    let render = || -> Result<String, driftless_helm::Error> {
        let user = values.merge_as(opts.helm_version)?;
        let chart = driftless_helm::load(&t.chart)?;
        driftless_helm::template(chart, user, &opts)
    };
    render().map_err(|e| e.helm_cli_text())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        t: TemplateArgs,
    }

    #[test]
    fn a_missing_chart_fails_with_helms_error_prefix() {
        let w = Wrap::try_parse_from(["x", "r", "/nonexistent/driftless/chart"]).expect("parses");
        let err = template(&w.t).expect_err("fails");
        assert!(err.starts_with("Error: "), "{err}");
    }

    #[test]
    fn helm_version_4_prints_what_helm_4_template_prints() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../helm/tests");
        let chart = dir.join("charts/parent");
        let args = ["x", "rel", chart.to_str().expect("utf-8 path")];
        let flags = ["--kube-version", "1.30.0", "--helm-version", "4"];
        let w = Wrap::try_parse_from(args.iter().chain(&flags)).expect("parses");
        let golden = std::fs::read_to_string(dir.join("cases/own-parent-default.golden.v4"))
            .expect("helm 4 golden");
        assert_eq!(template(&w.t).expect("renders"), golden);
    }
}
