//! Error classes: every controller error names its Flux reason and how the reconcile should
//! proceed, the Rust form of source-controller's `serror.Stalling` / `serror.Waiting` /
//! `serror.Generic` and of kustomize-controller's retry-on-error.

use std::error::Error;
use std::time::Duration;

/// How a failed reconcile proceeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Might succeed on retry (network, API server, storage): Ready=False, Reconciling kept with
    /// reason `ProgressingWithRetry`, retried with per-object backoff (or `spec.retryInterval`).
    Transient,
    /// Blocked on something else becoming ready (a dependency, a source artifact): Ready=False,
    /// requeued after `after` or `--requeue-dependency`, never counted as a failure for backoff.
    Waiting {
        /// When to look again; `--requeue-dependency` when unset.
        after: Option<Duration>,
    },
    /// Cannot succeed until the spec changes (invalid URL, bad path, ACL refusal): Stalled=True,
    /// Ready=False, observedGeneration moves on, and nothing is requeued.
    Stalled,
    /// Worth recording but not a failure of this generation (Flux's ignored `Generic` error):
    /// conditions summarise as on success and the object requeues at its interval.
    Ignored,
}

/// Implemented by every controller error.
pub trait Classify: Error {
    /// The Flux reason, spelled as Flux spells it (`GitOperationFailed`, `BuildFailed`…): it
    /// becomes the condition reason, the event reason and a metric label, so it is bounded.
    fn reason(&self) -> &'static str;
    /// How the reconcile proceeds after this error.
    fn class(&self) -> ErrorClass;
}

/// The error and its sources joined with `": "`, the message that conditions and events show
/// (errors display only their own step; the chain gives the cause).
pub fn chain(err: &dyn Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        // Some errors already print their source; do not repeat it.
        if !message.ends_with(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A controller-shaped error for tests of the summary.
    #[derive(Debug, thiserror::Error)]
    #[error("{message}")]
    pub(crate) struct TestError {
        pub(crate) reason: &'static str,
        pub(crate) class: ErrorClass,
        pub(crate) message: String,
    }

    impl Classify for TestError {
        fn reason(&self) -> &'static str {
            self.reason
        }
        fn class(&self) -> ErrorClass {
            self.class
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("failed to checkout and determine revision")]
    struct Outer {
        #[source]
        source: std::io::Error,
    }

    #[test]
    fn chain_joins_an_error_with_its_causes() {
        let err = Outer {
            source: std::io::Error::other("unable to clone 'https://example.invalid/repo'"),
        };
        assert_eq!(
            chain(&err),
            "failed to checkout and determine revision: unable to clone 'https://example.invalid/repo'"
        );
    }

    #[test]
    fn chain_does_not_repeat_a_cause_the_error_already_prints() {
        #[derive(Debug, thiserror::Error)]
        #[error("fetch failed: {source}")]
        struct Printing {
            source: std::io::Error,
        }
        let err = Printing {
            source: std::io::Error::other("timeout"),
        };
        assert_eq!(chain(&err), "fetch failed: timeout");
    }
}
