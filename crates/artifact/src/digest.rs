//! Artifact digests: `<algorithm>:<hex>` of the stored file bytes.
//!
//! Flux writes `sha256:<hex>` by default (`--artifact-digest-algo`) and its consumers accept a
//! bare hex checksum as sha256 (`fluxcd/pkg/http/fetch`). sha384 and sha512 are accepted for
//! verification because a third-party ExternalArtifact producer may publish them.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use sha2::{Digest as _, Sha256, Sha384, Sha512};

/// Hash algorithms this crate can compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    /// SHA-256, Flux's default and the only one used when writing.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl DigestAlgorithm {
    /// The algorithm's name as it appears before the `:`.
    pub fn name(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "sha256",
            DigestAlgorithm::Sha384 => "sha384",
            DigestAlgorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            DigestAlgorithm::Sha256 => 64,
            DigestAlgorithm::Sha384 => 96,
            DigestAlgorithm::Sha512 => 128,
        }
    }
}

/// A digest that failed to parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DigestError {
    /// The text before `:` names an algorithm this crate does not implement (e.g. `blake3`).
    #[error("unsupported digest algorithm '{algorithm}' (supported: sha256, sha384, sha512)")]
    UnsupportedAlgorithm {
        /// The algorithm name as written.
        algorithm: String,
    },
    /// The checksum is not lowercase-or-uppercase hex of the algorithm's length.
    #[error("malformed {algorithm} digest '{digest}': expected {expected_len} hex characters")]
    Malformed {
        /// The algorithm the checksum was checked against.
        algorithm: &'static str,
        /// The whole digest string as given.
        digest: String,
        /// Number of hex characters the algorithm produces.
        expected_len: usize,
    },
}

/// A parsed digest; displays as `<algorithm>:<lowercase hex>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Digest {
    algorithm: DigestAlgorithm,
    hex: String,
}

impl Digest {
    /// The algorithm of this digest.
    pub fn algorithm(&self) -> DigestAlgorithm {
        self.algorithm
    }

    /// The lowercase hex checksum, without the algorithm prefix.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// Hash everything `reader` yields, returning the digest and the number of bytes read.
    pub fn compute(algorithm: DigestAlgorithm, reader: impl Read) -> io::Result<(Digest, u64)> {
        let mut hasher = Hasher::new(algorithm);
        let mut reader = reader;
        let n = io::copy(&mut reader, &mut hasher)?;
        Ok((hasher.finish(), n))
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (algorithm, hex) = match s.split_once(':') {
            Some((name, hex)) => {
                let algorithm = match name {
                    "sha256" => DigestAlgorithm::Sha256,
                    "sha384" => DigestAlgorithm::Sha384,
                    "sha512" => DigestAlgorithm::Sha512,
                    other => {
                        return Err(DigestError::UnsupportedAlgorithm {
                            algorithm: other.to_owned(),
                        });
                    }
                };
                (algorithm, hex)
            }
            // Flux's fetcher treats a bare checksum as sha256.
            None => (DigestAlgorithm::Sha256, s),
        };
        if hex.len() != algorithm.hex_len() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DigestError::Malformed {
                algorithm: algorithm.name(),
                digest: s.to_owned(),
                expected_len: algorithm.hex_len(),
            });
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_ascii_lowercase(),
        })
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

/// Incremental hasher that is also an [`io::Write`] sink, so it can sit behind a tee.
#[derive(Clone)]
pub enum Hasher {
    /// SHA-256 state.
    Sha256(Sha256),
    /// SHA-384 state.
    Sha384(Sha384),
    /// SHA-512 state.
    Sha512(Sha512),
}

impl Hasher {
    /// A fresh hasher for `algorithm`.
    pub fn new(algorithm: DigestAlgorithm) -> Self {
        match algorithm {
            DigestAlgorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            DigestAlgorithm::Sha384 => Hasher::Sha384(Sha384::new()),
            DigestAlgorithm::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    /// Feed bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha384(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    /// The digest of everything fed so far.
    pub fn finish(self) -> Digest {
        let (algorithm, hex) = match self {
            Hasher::Sha256(h) => (DigestAlgorithm::Sha256, hex::encode(h.finalize())),
            Hasher::Sha384(h) => (DigestAlgorithm::Sha384, hex::encode(h.finalize())),
            Hasher::Sha512(h) => (DigestAlgorithm::Sha512, hex::encode(h.finalize())),
        };
        Digest { algorithm, hex }
    }
}

impl Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_hex_checksum_is_read_as_sha256() {
        let hex = "a".repeat(64);
        let digest: Digest = hex.parse().expect("valid");
        assert_eq!(digest.algorithm(), DigestAlgorithm::Sha256);
        assert_eq!(digest.to_string(), format!("sha256:{hex}"));
    }

    #[test]
    fn uppercase_hex_is_normalised_to_lowercase() {
        let digest: Digest = format!("sha256:{}", "AB".repeat(32))
            .parse()
            .expect("valid");
        assert_eq!(digest.hex(), "ab".repeat(32));
    }

    #[test]
    fn unknown_algorithms_and_short_checksums_are_refused() {
        let err = "blake3:abcd".parse::<Digest>().expect_err("blake3");
        assert!(err.to_string().contains("blake3"), "{err}");
        let err = "sha256:abcd".parse::<Digest>().expect_err("short");
        assert!(err.to_string().contains("64 hex"), "{err}");
    }

    #[test]
    fn sha256_of_known_bytes_matches_the_published_vector() {
        let (digest, n) = Digest::compute(DigestAlgorithm::Sha256, &b"abc"[..]).expect("hash");
        assert_eq!(n, 3);
        assert_eq!(
            digest.to_string(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
