//! `cargo xtask`: the project's own automation (local control plane, the whole
//! test suite, the demo). See README.md.

mod bench;
mod cli;
mod cluster;
mod conformance;
mod demo;
mod generate;
mod suite;

fn main() -> std::process::ExitCode {
    cli::main()
}
