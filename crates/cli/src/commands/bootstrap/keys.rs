//! The deploy key `bootstrap git` generates for an `ssh://` repository given without
//! `--private-key-file`: flux's algorithms (`--ssh-key-algorithm`), curves
//! (`--ssh-ecdsa-curve`) and RSA sizes (`--ssh-rsa-bits`), written as an OpenSSH private key
//! and an `authorized_keys` line. The randomness is the thread RNG of `rand` (a CSPRNG
//! seeded from the OS); the arithmetic is RustCrypto's, so no second TLS provider comes in.

use ssh_key::private::{EcdsaKeypair, Ed25519Keypair, KeypairData, RsaKeypair};
use ssh_key::{EcdsaCurve, LineEnding, PrivateKey};

/// `--ssh-key-algorithm`: the kind of key generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyAlgorithm {
    Rsa,
    Ecdsa,
    Ed25519,
}

/// `--ssh-ecdsa-curve`: the curve of an ECDSA key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Curve {
    P256,
    P384,
    P521,
}

/// The smallest RSA modulus the key generator (and OpenSSH since 9.1) accepts.
const MIN_RSA_BITS: u32 = 1024;
/// ssh-keygen's own ceiling; anything larger takes minutes to generate.
const MAX_RSA_BITS: u32 = 16384;

/// Parses `--ssh-rsa-bits`: a multiple of 8 (flux's rule) between 1024 and 16384. clap puts
/// the flag's name in front of the message.
pub fn parse_rsa_bits(value: &str) -> Result<u32, String> {
    let bits: u32 = value
        .trim()
        .parse()
        .map_err(|e| format!("'{value}' is not a number of bits: {e}"))?;
    if !bits.is_multiple_of(8) {
        return Err("RSA key bit size should be a multiples of 8".into());
    }
    if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
        return Err(format!(
            "RSA key bit size must be between {MIN_RSA_BITS} and {MAX_RSA_BITS}"
        ));
    }
    Ok(bits)
}

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    pub algorithm: KeyAlgorithm,
    pub curve: Curve,
    pub rsa_bits: u32,
}

/// A generated key pair, as the Secret stores it.
pub struct DeployKey {
    /// `identity`: the OpenSSH private key file, encrypted when a passphrase was given.
    pub private: String,
    /// `identity.pub`: `<type> <base64>` and a newline, as flux writes it (no comment).
    pub public: String,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("generating the {algorithm:?} deploy key failed: {source}")]
    Generate {
        algorithm: KeyAlgorithm,
        #[source]
        source: ssh_key::Error,
    },
    #[error("encoding the deploy key failed: {0}")]
    Encode(#[source] ssh_key::Error),
}

impl KeySpec {
    /// A fresh key pair; `passphrase` encrypts the private key (OpenSSH's bcrypt KDF and
    /// AES-256-CTR, as `ssh-keygen -N` does).
    pub fn generate(&self, passphrase: Option<&str>) -> Result<DeployKey, KeyError> {
        let mut rng = rand::rng();
        let failed = |source| KeyError::Generate {
            algorithm: self.algorithm,
            source,
        };
        let data = match self.algorithm {
            KeyAlgorithm::Ed25519 => KeypairData::from(Ed25519Keypair::random(&mut rng)),
            KeyAlgorithm::Ecdsa => {
                let curve = match self.curve {
                    Curve::P256 => EcdsaCurve::NistP256,
                    Curve::P384 => EcdsaCurve::NistP384,
                    Curve::P521 => EcdsaCurve::NistP521,
                };
                KeypairData::from(EcdsaKeypair::random(&mut rng, curve).map_err(failed)?)
            }
            KeyAlgorithm::Rsa => {
                let bits = usize::try_from(self.rsa_bits).unwrap_or(usize::MAX);
                KeypairData::from(RsaKeypair::random(&mut rng, bits).map_err(failed)?)
            }
        };
        let mut key = PrivateKey::new(data, "").map_err(failed)?;
        if let Some(passphrase) = passphrase {
            key = key
                .encrypt(&mut rng, passphrase)
                .map_err(KeyError::Encode)?;
        }
        let private = key.to_openssh(LineEnding::LF).map_err(KeyError::Encode)?;
        let public = key.public_key().to_openssh().map_err(KeyError::Encode)?;
        Ok(DeployKey {
            private: private.to_string(),
            public: format!("{}\n", public.trim()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(algorithm: KeyAlgorithm, curve: Curve) -> KeySpec {
        KeySpec {
            algorithm,
            curve,
            rsa_bits: 2048,
        }
    }

    #[test]
    fn each_algorithm_gives_an_openssh_key_whose_public_half_is_the_printed_line() {
        for (spec, prefix) in [
            (
                spec(KeyAlgorithm::Ecdsa, Curve::P384),
                "ecdsa-sha2-nistp384 ",
            ),
            (
                spec(KeyAlgorithm::Ecdsa, Curve::P256),
                "ecdsa-sha2-nistp256 ",
            ),
            (
                spec(KeyAlgorithm::Ecdsa, Curve::P521),
                "ecdsa-sha2-nistp521 ",
            ),
            (spec(KeyAlgorithm::Ed25519, Curve::P384), "ssh-ed25519 "),
            (spec(KeyAlgorithm::Rsa, Curve::P384), "ssh-rsa "),
        ] {
            let key = spec.generate(None).expect("generates");
            assert!(key.public.starts_with(prefix), "{}", key.public);
            assert!(key.public.ends_with('\n') && key.public.matches(' ').count() == 1);
            assert!(
                key.private
                    .starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"),
                "{}",
                key.private
            );
            let public = driftless_git::identity_public_key(key.private.as_bytes(), None)
                .expect("the git client reads the key");
            assert_eq!(public.trim(), key.public.trim());
        }
    }

    #[test]
    fn two_keys_are_never_the_same() {
        let spec = spec(KeyAlgorithm::Ed25519, Curve::P384);
        let (a, b) = (
            spec.generate(None).expect("a"),
            spec.generate(None).expect("b"),
        );
        assert_ne!(a.public, b.public);
    }

    #[test]
    fn a_passphrase_encrypts_the_private_key() {
        let key = spec(KeyAlgorithm::Ed25519, Curve::P384)
            .generate(Some("pass-1"))
            .expect("generates");
        assert!(driftless_git::identity_public_key(key.private.as_bytes(), None).is_err());
        let public = driftless_git::identity_public_key(key.private.as_bytes(), Some("pass-1"))
            .expect("decrypts");
        assert_eq!(public.trim(), key.public.trim());
    }

    #[test]
    fn rsa_sizes_must_be_whole_bytes_within_what_openssh_accepts() {
        assert_eq!(parse_rsa_bits("4096"), Ok(4096));
        assert_eq!(
            parse_rsa_bits("2049"),
            Err("RSA key bit size should be a multiples of 8".into())
        );
        let small = parse_rsa_bits("512").expect_err("too small");
        assert!(small.contains("between 1024 and 16384"), "{small}");
        assert!(parse_rsa_bits("many").is_err());
    }
}
