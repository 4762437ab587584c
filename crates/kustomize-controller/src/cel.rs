//! CEL for `spec.healthCheckExprs` and `spec.dependsOn[].readyExpr`: the rules live in the
//! `driftless-cel-health` crate, shared with helm-controller.

pub use driftless_cel_health::*;
