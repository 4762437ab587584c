//! A throwaway home for running the real tools in tests (git, gpg, ssh-keygen): `HOME` and
//! `GNUPGHOME` point into a temp dir, git reads no system config, and commits carry a fixed
//! identity. Shared by the signature test binaries.

// Each test binary uses part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use driftless_git::{Auth, CheckoutOptions, Outcome, Reference, TrustedKeys, checkout};

/// The temp home; dropping it stops the gpg-agent gpg started there.
pub struct ToolHome {
    pub dir: tempfile::TempDir,
}

impl ToolHome {
    /// A home with the armored OpenPGP `keys` imported (none: an empty key ring).
    pub fn with(keys: &[&[u8]]) -> ToolHome {
        let dir = tempfile::tempdir().expect("tool home");
        let home = ToolHome { dir };
        for key in keys {
            let file = home.path("import.asc");
            std::fs::write(&file, key).expect("key file");
            home.run(
                "gpg",
                &["--batch", "--import", file.to_str().expect("utf-8")],
            );
        }
        home
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env("GNUPGHOME", self.dir.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", self.dir.path())
            .env("GIT_AUTHOR_NAME", "Flux Bot")
            .env("GIT_AUTHOR_EMAIL", "flux@example.com")
            .env("GIT_COMMITTER_NAME", "Flux Bot")
            .env("GIT_COMMITTER_EMAIL", "flux@example.com");
        cmd
    }

    /// Runs `program`, failing the test unless it succeeds; returns its stdout.
    pub fn run(&self, program: &str, args: &[&str]) -> String {
        let out = self.command(program, args).output().expect("spawn");
        assert!(
            out.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn git(&self, dir: &Path, args: &[&str]) -> String {
        let mut all = vec!["-C", dir.to_str().expect("utf-8")];
        all.extend_from_slice(args);
        self.run("git", &all)
    }
}

impl Drop for ToolHome {
    fn drop(&mut self) {
        // gpg starts an agent per home; it would outlive the test otherwise.
        let _ = self.command("gpgconf", &["--kill", "gpg-agent"]).output();
    }
}

/// The keys of a verification Secret with these entries.
pub fn keys(entries: &[(&str, &[u8])]) -> TrustedKeys {
    let data: BTreeMap<String, Vec<u8>> = entries
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_vec()))
        .collect();
    TrustedKeys::from_secret_data(&data).expect("trusted keys")
}

/// A fresh checkout of `reference` from `url`, with the objects it keeps for verification.
pub fn checked_out(url: &str, reference: Reference) -> driftless_git::Commit {
    let dir = tempfile::tempdir().expect("dir");
    let options = CheckoutOptions {
        reference,
        auth: Auth::default(),
        timeout: Duration::from_secs(30),
        ..CheckoutOptions::default()
    };
    match tokio::task::block_in_place(|| checkout(url, dir.path(), &options)).expect("checkout") {
        Outcome::CheckedOut { commit, .. } => Some(commit),
        Outcome::Unchanged { .. } => None,
    }
    .expect("checked out: no last revision was given")
}
