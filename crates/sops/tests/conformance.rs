//! Conformance with the real `sops` (v3.13.3, crates/testkit/tools.toml):
//! every committed encrypted fixture must decrypt to exactly what `sops -d`
//! printed for it.
//!
//! CI only compares with the committed files. To rebuild them from the
//! oracle (new keys if missing, fresh encryptions, fresh goldens):
//!
//!     DRIFTLESS_REGENERATE_SOPS=1 cargo test -p driftless-sops --test conformance
//!
//! which builds sops from its Go module into the tool cache (Go required)
//! and needs `gpg` for the PGP cases.

mod common;
mod regenerate;

use common::{CASES, all_keys};
use driftless_sops::{Format, decrypt_as};

#[test]
fn every_fixture_decrypts_exactly_as_sops_decrypts_it() {
    if std::env::var_os("DRIFTLESS_REGENERATE_SOPS").is_some_and(|v| v == "1") {
        regenerate::all();
    }
    let keys = all_keys();
    let (mut passed, mut failed) = (0, Vec::new());
    for case in CASES {
        let encrypted = std::fs::read(case.encrypted()).expect("committed encrypted fixture");
        let expected = std::fs::read(case.expected()).expect("committed golden output");
        let input = Format::from_path(case.encrypted());
        let output = Format::from_path(case.expected());
        match decrypt_as(&encrypted, input, output, &keys, true) {
            Ok(got) if got == expected => passed += 1,
            Ok(got) => failed.push(format!(
                "{}: output differs\n--- sops -d\n{}\n--- ours\n{}",
                case.name,
                String::from_utf8_lossy(&expected),
                String::from_utf8_lossy(&got)
            )),
            Err(e) => failed.push(format!("{}: {e}", case.name)),
        }
    }
    println!("sops conformance: {passed} passed, {} failed", failed.len());
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}
