//! Strict host key checking against an OpenSSH `known_hosts` text.
//!
//! A host is looked up as `host` on port 22 and as `[host]:port` otherwise, matched against
//! plain patterns (with `*`, `?` and `!negation`) and hashed `|1|salt|hmac` entries. An entry
//! marked `@revoked` rejects its key for every host; `@cert-authority` lines are ignored because
//! host certificates are not negotiated. There is no trust on first use: a host without an
//! entry is as much an error as one whose entry names a different key.

use base64::Engine as _;
use russh::keys::ssh_key::{Algorithm, HashAlg, PublicKey};

/// The parsed `known_hosts` of one Secret.
#[derive(Clone, Debug)]
pub(crate) struct KnownHosts {
    entries: Vec<Entry>,
}

#[derive(Clone, Debug)]
struct Entry {
    marker: Marker,
    patterns: Vec<Pattern>,
    key: PublicKey,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Marker {
    None,
    Revoked,
    CertAuthority,
}

#[derive(Clone, Debug)]
enum Pattern {
    Glob { negated: bool, glob: String },
    Hashed { salt: Vec<u8>, hash: Vec<u8> },
}

/// Why an offered host key is not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HostKeyError {
    #[error("host '{host}' is not in known_hosts (offered {algorithm} key {fingerprint})")]
    Unknown {
        host: String,
        algorithm: String,
        fingerprint: String,
    },
    #[error(
        "host key mismatch for '{host}': the offered {algorithm} key {fingerprint} is not the \
         one known_hosts lists for it"
    )]
    Mismatch {
        host: String,
        algorithm: String,
        fingerprint: String,
    },
    #[error(
        "host '{host}' offered {algorithm} key {fingerprint}, which known_hosts marks @revoked"
    )]
    Revoked {
        host: String,
        algorithm: String,
        fingerprint: String,
    },
}

/// A `known_hosts` line that cannot be parsed; the line number, never the content.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("known_hosts line {line}: {reason}")]
pub(crate) struct ParseError {
    pub line: usize,
    pub reason: String,
}

/// The name `known_hosts` stores for `host:port`.
pub(crate) fn lookup_name(host: &str, port: u16) -> String {
    let host = host.to_ascii_lowercase();
    if port == 22 {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

impl KnownHosts {
    pub fn parse(text: &str) -> Result<KnownHosts, ParseError> {
        let mut entries = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fail = |reason: &str| ParseError {
                line: index + 1,
                reason: reason.to_string(),
            };
            let mut fields = line.split_whitespace();
            let mut first = fields.next().ok_or_else(|| fail("empty"))?;
            let marker = match first {
                "@revoked" => Marker::Revoked,
                "@cert-authority" => Marker::CertAuthority,
                m if m.starts_with('@') => return Err(fail("unknown marker")),
                _ => Marker::None,
            };
            if marker != Marker::None {
                first = fields.next().ok_or_else(|| fail("missing host patterns"))?;
            }
            let key_type = fields.next().ok_or_else(|| fail("missing key type"))?;
            let key_data = fields.next().ok_or_else(|| fail("missing key"))?;
            let key = PublicKey::from_openssh(&format!("{key_type} {key_data}"))
                .map_err(|e| fail(&format!("invalid {key_type} key: {e}")))?;
            let patterns = first
                .split(',')
                .map(|p| parse_pattern(p).ok_or_else(|| fail("invalid hashed host")))
                .collect::<Result<Vec<_>, _>>()?;
            entries.push(Entry {
                marker,
                patterns,
                key,
            });
        }
        Ok(KnownHosts { entries })
    }

    /// Accept `offered` for `host:port` only when an entry for that host names this very key.
    pub fn check(&self, host: &str, port: u16, offered: &PublicKey) -> Result<(), HostKeyError> {
        let name = lookup_name(host, port);
        let algorithm = offered.algorithm().to_string();
        let fingerprint = offered.fingerprint(HashAlg::Sha256).to_string();
        if self
            .entries
            .iter()
            .any(|e| e.marker == Marker::Revoked && e.key.key_data() == offered.key_data())
        {
            return Err(HostKeyError::Revoked {
                host: name,
                algorithm,
                fingerprint,
            });
        }
        let mut listed = false;
        for entry in self.for_host(&name) {
            if entry.key.key_data() == offered.key_data() {
                return Ok(());
            }
            listed = true;
        }
        if listed {
            Err(HostKeyError::Mismatch {
                host: name,
                algorithm,
                fingerprint,
            })
        } else {
            Err(HostKeyError::Unknown {
                host: name,
                algorithm,
                fingerprint,
            })
        }
    }

    /// The host key algorithms to ask for, most preferred first: only those known_hosts has
    /// a key for (as OpenSSH orders them), so a server with several host keys offers the one
    /// that can be verified. Empty when the host is not listed at all.
    pub fn algorithms_for(&self, host: &str, port: u16, preferred: &[Algorithm]) -> Vec<Algorithm> {
        let name = lookup_name(host, port);
        let listed: Vec<&PublicKey> = self.for_host(&name).map(|e| &e.key).collect();
        preferred
            .iter()
            .filter(|alg| {
                listed
                    .iter()
                    .any(|key| same_key_type(alg, &key.algorithm()))
            })
            .cloned()
            .collect()
    }

    fn for_host<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries
            .iter()
            .filter(|e| e.marker == Marker::None && host_matches(&e.patterns, name))
    }
}

/// `rsa-sha2-512` and `rsa-sha2-256` are signatures over an `ssh-rsa` key.
fn same_key_type(negotiated: &Algorithm, stored: &Algorithm) -> bool {
    match (negotiated, stored) {
        (Algorithm::Rsa { .. }, Algorithm::Rsa { .. }) => true,
        (a, b) => a == b,
    }
}

fn parse_pattern(raw: &str) -> Option<Pattern> {
    if let Some(rest) = raw.strip_prefix("|1|") {
        let (salt, hash) = rest.split_once('|')?;
        let b64 = base64::engine::general_purpose::STANDARD;
        return Some(Pattern::Hashed {
            salt: b64.decode(salt).ok()?,
            hash: b64.decode(hash).ok()?,
        });
    }
    let (negated, glob) = match raw.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    Some(Pattern::Glob {
        negated,
        glob: glob.to_ascii_lowercase(),
    })
}

/// A line matches when one positive pattern matches and no negated one does.
fn host_matches(patterns: &[Pattern], name: &str) -> bool {
    let mut matched = false;
    for pattern in patterns {
        match pattern {
            Pattern::Glob { negated, glob } => {
                if glob_matches(glob.as_bytes(), name.as_bytes()) {
                    if *negated {
                        return false;
                    }
                    matched = true;
                }
            }
            Pattern::Hashed { salt, hash } => {
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, salt);
                if ring::hmac::verify(&key, name.as_bytes(), hash).is_ok() {
                    matched = true;
                }
            }
        }
    }
    matched
}

/// `*` matches any run of characters, `?` exactly one.
fn glob_matches(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| glob_matches(rest, &text[skip..])),
        Some((b'?', rest)) => !text.is_empty() && glob_matches(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && glob_matches(rest, &text[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINjmyZ5xxOlNeMAIXANFX3HWeo9HJ/QAQ7z15eXrrjuC";
    const OTHER_ED25519: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDbJW9serF7GFuayFGHLor4RZCpUsmfvv4DM2nXknskt";

    fn key(text: &str) -> PublicKey {
        PublicKey::from_openssh(text).expect("valid key")
    }

    fn hashed(name: &str, salt: &[u8]) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, salt);
        let tag = ring::hmac::sign(&k, name.as_bytes());
        format!("|1|{}|{}", b64.encode(salt), b64.encode(tag.as_ref()))
    }

    #[test]
    fn a_listed_key_is_accepted_on_port_22_and_on_a_bracketed_port() {
        let hosts = KnownHosts::parse(&format!(
            "# comment\ngithub.com {ED25519}\n[127.0.0.1]:2222 {ED25519} c\n"
        ))
        .expect("parses");
        assert!(hosts.check("GitHub.com", 22, &key(ED25519)).is_ok());
        assert!(hosts.check("127.0.0.1", 2222, &key(ED25519)).is_ok());
        // The bracketed entry is for port 2222 only.
        assert!(matches!(
            hosts.check("127.0.0.1", 22, &key(ED25519)),
            Err(HostKeyError::Unknown { .. })
        ));
    }

    #[test]
    fn a_different_key_for_a_listed_host_is_a_mismatch_naming_host_and_fingerprint() {
        let hosts = KnownHosts::parse(&format!("example.com {ED25519}\n")).expect("parses");
        let offered = key(OTHER_ED25519);
        let err = hosts
            .check("example.com", 22, &offered)
            .expect_err("mismatch");
        let text = err.to_string();
        assert!(matches!(err, HostKeyError::Mismatch { .. }), "{text}");
        assert!(text.contains("'example.com'"), "{text}");
        let fingerprint = offered.fingerprint(HashAlg::Sha256).to_string();
        assert!(fingerprint.starts_with("SHA256:"));
        assert!(text.contains(&fingerprint), "{text}");
    }

    #[test]
    fn hashed_entries_match_the_bracketed_name_they_were_made_from() {
        let line = format!(
            "{} {ED25519}\n",
            hashed("[git.example]:2222", b"0123456789abcdefghij")
        );
        let hosts = KnownHosts::parse(&line).expect("parses");
        assert!(hosts.check("git.example", 2222, &key(ED25519)).is_ok());
        assert!(hosts.check("git.example", 22, &key(ED25519)).is_err());
    }

    #[test]
    fn wildcards_and_negations_select_hosts() {
        let hosts = KnownHosts::parse(&format!("*.example.com,!bad.example.com {ED25519}\n"))
            .expect("parses");
        assert!(hosts.check("git.example.com", 22, &key(ED25519)).is_ok());
        assert!(hosts.check("bad.example.com", 22, &key(ED25519)).is_err());
        assert!(hosts.check("example.org", 22, &key(ED25519)).is_err());
    }

    #[test]
    fn a_revoked_key_is_refused_even_when_also_listed() {
        let hosts = KnownHosts::parse(&format!(
            "@revoked * {ED25519}\nexample.com {ED25519}\n@cert-authority * {OTHER_ED25519}\n"
        ))
        .expect("parses");
        assert!(matches!(
            hosts.check("example.com", 22, &key(ED25519)),
            Err(HostKeyError::Revoked { .. })
        ));
        // A CA line never vouches for a plain key.
        assert!(matches!(
            hosts.check("example.com", 22, &key(OTHER_ED25519)),
            Err(HostKeyError::Mismatch { .. })
        ));
    }

    #[test]
    fn a_malformed_line_is_reported_by_number() {
        let err = KnownHosts::parse(&format!("good {ED25519}\nbad ssh-ed25519 !!!\n"))
            .expect_err("bad key");
        assert_eq!(err.line, 2);
        assert!(KnownHosts::parse("@weird host ssh-ed25519 AAAA").is_err());
        assert!(KnownHosts::parse("host-only\n").is_err());
    }

    #[test]
    fn only_algorithms_with_a_listed_key_are_requested() {
        let hosts = KnownHosts::parse(&format!("h {ED25519}\n")).expect("parses");
        let preferred = [
            Algorithm::Ecdsa {
                curve: russh::keys::EcdsaCurve::NistP256,
            },
            Algorithm::Ed25519,
            Algorithm::Rsa {
                hash: Some(HashAlg::Sha512),
            },
        ];
        assert_eq!(
            hosts.algorithms_for("h", 22, &preferred),
            vec![Algorithm::Ed25519]
        );
        assert!(hosts.algorithms_for("other", 22, &preferred).is_empty());
    }
}
