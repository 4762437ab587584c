//! Key material for the local control plane: a cluster CA, the API server's
//! serving certificate, an admin client certificate (group `system:masters`)
//! and the service-account token signing key pair.
//!
//! Everything is generated once per cluster state directory and reused, so a
//! restarted control plane keeps trusting the kubeconfig users already hold.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};

use crate::fsutil::write_private;

/// Errors while generating or writing key material.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("generating {what}: {source}")]
    Generate {
        what: &'static str,
        #[source]
        source: rcgen::Error,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Paths of the PEM files the control plane components read.
#[derive(Debug, Clone)]
pub struct Pki {
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub serving_cert: PathBuf,
    pub serving_key: PathBuf,
    pub admin_cert: PathBuf,
    pub admin_key: PathBuf,
    pub service_account_key: PathBuf,
    pub service_account_pub: PathBuf,
}

impl Pki {
    /// The file layout under `dir` (nothing is read or written).
    pub fn layout(dir: &Path) -> Self {
        Self {
            ca_cert: dir.join("ca.crt"),
            ca_key: dir.join("ca.key"),
            serving_cert: dir.join("apiserver.crt"),
            serving_key: dir.join("apiserver.key"),
            admin_cert: dir.join("admin.crt"),
            admin_key: dir.join("admin.key"),
            service_account_key: dir.join("sa.key"),
            service_account_pub: dir.join("sa.pub"),
        }
    }

    fn files(&self) -> [&Path; 8] {
        [
            &self.ca_cert,
            &self.ca_key,
            &self.serving_cert,
            &self.serving_key,
            &self.admin_cert,
            &self.admin_key,
            &self.service_account_key,
            &self.service_account_pub,
        ]
    }

    /// Loads the key material in `dir`, generating all of it when any file is missing.
    pub fn ensure(dir: &Path) -> Result<Self, PkiError> {
        let pki = Self::layout(dir);
        if pki.files().iter().all(|f| f.is_file()) {
            return Ok(pki);
        }
        std::fs::create_dir_all(dir).map_err(|source| PkiError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        pki.generate()?;
        Ok(pki)
    }

    fn generate(&self) -> Result<(), PkiError> {
        let gen_err = |what| move |source| PkiError::Generate { what, source };

        let ca_key = KeyPair::generate().map_err(gen_err("CA key"))?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(gen_err("CA"))?;
        ca_params.distinguished_name = name("driftless-test-ca", None);
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).map_err(gen_err("CA"))?;
        let issuer = Issuer::new(ca_params, &ca_key);

        // The API server is reached on loopback by us and, through the
        // in-cluster service, by name: both must verify.
        let serving_key = KeyPair::generate().map_err(gen_err("serving key"))?;
        let mut serving = CertificateParams::new(vec![
            "localhost".to_string(),
            "kubernetes".to_string(),
            "kubernetes.default".to_string(),
            "kubernetes.default.svc".to_string(),
            "kubernetes.default.svc.cluster.local".to_string(),
        ])
        .map_err(gen_err("serving certificate"))?;
        for ip in ["127.0.0.1", "10.0.0.1"] {
            if let Ok(addr) = ip.parse() {
                serving.subject_alt_names.push(SanType::IpAddress(addr));
            }
        }
        serving.distinguished_name = name("kube-apiserver", None);
        serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let serving_cert = serving
            .signed_by(&serving_key, &issuer)
            .map_err(gen_err("serving certificate"))?;

        // Client certificates map CN to the user and O to groups; system:masters
        // bypasses RBAC, which the harness itself needs (tests impersonate others).
        let admin_key = KeyPair::generate().map_err(gen_err("admin key"))?;
        let mut admin =
            CertificateParams::new(Vec::<String>::new()).map_err(gen_err("admin certificate"))?;
        admin.distinguished_name = name("driftless-admin", Some("system:masters"));
        admin.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let admin_cert = admin
            .signed_by(&admin_key, &issuer)
            .map_err(gen_err("admin certificate"))?;

        let sa_key = KeyPair::generate().map_err(gen_err("service-account key"))?;

        write_private(&self.ca_cert, ca_cert.pem().as_bytes(), write_err)?;
        write_private(&self.ca_key, ca_key.serialize_pem().as_bytes(), write_err)?;
        write_private(&self.serving_cert, serving_cert.pem().as_bytes(), write_err)?;
        write_private(
            &self.serving_key,
            serving_key.serialize_pem().as_bytes(),
            write_err,
        )?;
        write_private(&self.admin_cert, admin_cert.pem().as_bytes(), write_err)?;
        write_private(
            &self.admin_key,
            admin_key.serialize_pem().as_bytes(),
            write_err,
        )?;
        write_private(
            &self.service_account_key,
            sa_key.serialize_pem().as_bytes(),
            write_err,
        )?;
        write_private(
            &self.service_account_pub,
            sa_key.public_key_pem().as_bytes(),
            write_err,
        )?;
        Ok(())
    }

    /// Reads one PEM file (used to inline certificates into a kubeconfig).
    pub fn read(path: &Path) -> Result<Vec<u8>, PkiError> {
        std::fs::read(path).map_err(|source| PkiError::Read {
            path: path.to_path_buf(),
            source,
        })
    }
}

fn write_err(path: &Path, source: std::io::Error) -> PkiError {
    PkiError::Write {
        path: path.to_path_buf(),
        source,
    }
}

fn name(common_name: &str, organization: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    if let Some(org) = organization {
        dn.push(DnType::OrganizationName, org);
    }
    dn
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ensure_generates_every_file_once_and_then_reuses_them() {
        let dir = tempfile::tempdir().unwrap();
        let first = Pki::ensure(dir.path()).unwrap();
        let ca = std::fs::read(&first.ca_cert).unwrap();
        assert!(String::from_utf8_lossy(&ca).starts_with("-----BEGIN CERTIFICATE-----"));
        let key = std::fs::read_to_string(&first.admin_key).unwrap();
        assert!(key.contains("PRIVATE KEY"));

        let second = Pki::ensure(dir.path()).unwrap();
        assert_eq!(std::fs::read(&second.ca_cert).unwrap(), ca);
    }

    #[test]
    fn a_missing_file_regenerates_the_whole_set_so_certificates_match_their_ca() {
        let dir = tempfile::tempdir().unwrap();
        let first = Pki::ensure(dir.path()).unwrap();
        let ca = std::fs::read(&first.ca_cert).unwrap();
        std::fs::remove_file(&first.admin_cert).unwrap();
        let second = Pki::ensure(dir.path()).unwrap();
        assert!(second.admin_cert.is_file());
        assert_ne!(std::fs::read(&second.ca_cert).unwrap(), ca);
    }
}
