//! Helpers of the user-command tests: run a command function with its output captured, and
//! build the arguments a test needs.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use driftless_cli::commands::CommandError;
use driftless_cli::commands::cluster::KubeArgs;
use driftless_cli::commands::get::{GetArgs, GetWhat};
use driftless_cli::commands::output::Printer;
use driftless_cli::commands::target::{Names, Target};
use driftless_runtime::flags::GoDuration;

/// How long a command may wait on the cluster.
pub const WAIT: std::time::Duration = std::time::Duration::from_secs(90);

/// What a command printed on stdout and stderr, or its error.
pub struct Run {
    pub out: String,
    pub err: String,
    pub result: Result<(), CommandError>,
}

pub async fn capture<F>(f: F) -> Run
where
    F: AsyncFnOnce(&mut Printer<'_>) -> Result<(), CommandError>,
{
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let result = {
        let mut printer = Printer::new(&mut out, &mut err);
        f(&mut printer).await
    };
    Run {
        out: String::from_utf8(out).expect("utf-8"),
        err: String::from_utf8(err).expect("utf-8"),
        result,
    }
}

pub fn kube(namespace: &str) -> KubeArgs {
    let mut args = KubeArgs::new(namespace);
    args.timeout = GoDuration(WAIT);
    args
}

pub fn ks(name: &str) -> Target {
    Target::Kustomization(Names {
        names: vec![name.to_owned()],
    })
}

pub fn get_args(namespace: &str, what: GetWhat) -> GetArgs {
    GetArgs {
        kube: kube(namespace),
        all_namespaces: false,
        no_header: false,
        watch: false,
        label_selector: None,
        status_selector: None,
        what,
    }
}

pub const REVISION_1: &str = "main@sha1:0000000000000000000000000000000000000001";
