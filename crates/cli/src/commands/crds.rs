//! `driftless crds`: the CRDs of every kind driftless serves, ready for `kubectl apply -f -`.

use std::io::Write;

use clap::Args;

use super::{CommandError, write_output};
use crate::yaml;

/// Arguments of `driftless crds` (none yet; the output is always every CRD).
#[derive(Debug, Args)]
pub struct CrdsArgs {}

/// Writes every CRD, `---`-separated, in [`driftless_api::crds`] order (grouped by controller,
/// then by kind), with sorted keys so the text is the same on every run.
pub fn run(_args: &CrdsArgs, out: &mut impl Write) -> Result<(), CommandError> {
    write_output(out, &yaml::stream(&driftless_api::crds())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

    fn output() -> String {
        let mut out = Vec::new();
        run(&CrdsArgs {}, &mut out).expect("crds renders");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn the_output_parses_back_into_exactly_the_api_crds() {
        let parsed: Vec<CustomResourceDefinition> =
            serde_saphyr::from_multiple(&output()).expect("output parses");
        assert_eq!(parsed, driftless_api::crds());
    }

    #[test]
    fn the_output_is_identical_on_every_run() {
        assert_eq!(output(), output());
    }

    #[test]
    fn every_crd_is_its_own_document() {
        let text = output();
        assert_eq!(
            text.matches("\n---\n").count() + 1,
            driftless_api::crds().len()
        );
        assert!(text.starts_with("---\napiVersion: apiextensions.k8s.io/v1\n"));
    }
}
