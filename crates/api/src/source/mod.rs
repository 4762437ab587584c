//! `source.toolkit.fluxcd.io/v1`: the kinds source-controller reconciles into artifacts.

pub mod git_repository;

pub use git_repository::*;
