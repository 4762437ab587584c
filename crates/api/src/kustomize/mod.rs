//! `kustomize.toolkit.fluxcd.io/v1`: the Kustomization kind.

pub mod kustomization;

pub use kustomization::*;
