//! The settings of `spec.kubeConfig.configMapRef`: a ConfigMap in the object's namespace that
//! says how to reach a remote cluster without a kubeconfig Secret ("secret-less", workload
//! identity). Its keys, as Flux reads them:
//!
//! - `provider` (required): `aws`, `azure`, `gcp` or `generic`;
//! - `cluster`: the cloud resource name of the cluster (not used by `generic`);
//! - `address`: the API server address (required by `generic`; also its default audience);
//! - `ca.crt`: PEM CA bundle of the API server (system roots when absent);
//! - `audiences`: line-separated audiences of the ServiceAccount token;
//! - `serviceAccountName`: the ServiceAccount (in the object's namespace) whose token
//!   authenticates; the controller's own when absent.
//!
//! Only `generic` is done here: the cloud providers exchange the token with AWS, Azure or
//! Google APIs, which this build does not call. Error texts never quote `ca.crt`.

use std::collections::BTreeMap;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

/// The cloud or identity system a ConfigMap names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Provider {
    /// Amazon EKS through IAM.
    Aws,
    /// Azure AKS through Entra ID.
    Azure,
    /// Google GKE through Google IAM.
    Gcp,
    /// A Kubernetes ServiceAccount token the remote cluster trusts as an OIDC token.
    Generic,
}

impl Provider {
    /// The name as written in the ConfigMap.
    pub fn name(self) -> &'static str {
        match self {
            Self::Aws => "aws",
            Self::Azure => "azure",
            Self::Gcp => "gcp",
            Self::Generic => "generic",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        [Self::Aws, Self::Azure, Self::Gcp, Self::Generic]
            .into_iter()
            .find(|p| p.name() == name)
    }
}

/// How to reach and authenticate to the remote cluster, from the ConfigMap.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClusterAccess {
    /// `https://<lowercase host>:<port>`, as Flux canonicalises `address`.
    pub server: String,
    /// DER certificates of `ca.crt`; `None` trusts the system roots.
    pub ca_certs: Option<Vec<Vec<u8>>>,
    /// Audiences of the ServiceAccount token: `audiences`, else `address` as written.
    pub audiences: Vec<String>,
    /// `serviceAccountName`: `None` authenticates as the controller's own account.
    pub service_account: Option<String>,
}

/// Why a ConfigMap cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// No `provider` key.
    #[error(
        "provider '' not implemented: the ConfigMap has no 'provider' key (one of aws, azure, gcp, generic)"
    )]
    MissingProvider,
    /// A `provider` Flux does not know; Flux's own words.
    #[error("provider '{0}' not implemented")]
    UnknownProvider(String),
    /// A cloud provider this build cannot exchange tokens with.
    #[error(
        "provider '{}' is not supported by this controller: it needs the {} APIs; use provider 'generic' or spec.kubeConfig.secretRef",
        .0.name(), cloud(*.0)
    )]
    UnsupportedProvider(Provider),
    /// `generic` without `address`; Flux's own words.
    #[error("cluster address is required to create a REST config")]
    MissingAddress,
    /// `address` is not an https URL; Flux's own words.
    #[error("failed to parse cluster address {address}: {problem}")]
    InvalidAddress {
        /// The address as written.
        address: String,
        /// Why.
        problem: String,
    },
    /// `ca.crt` holds no PEM certificate.
    #[error("invalid ca.crt: no PEM-encoded certificate found")]
    InvalidCa,
}

fn cloud(provider: Provider) -> &'static str {
    match provider {
        Provider::Aws => "AWS EKS and STS",
        Provider::Azure => "Azure Resource Manager and Entra ID",
        Provider::Gcp => "Google Cloud GKE and IAM",
        Provider::Generic => "Kubernetes",
    }
}

/// Reads the ConfigMap's `data` (absent values read as absent keys, as in Go's map lookups).
pub fn parse(data: &BTreeMap<String, String>) -> Result<ClusterAccess, AccessError> {
    let provider = match data.get("provider").map(String::as_str) {
        None | Some("") => return Err(AccessError::MissingProvider),
        Some(name) => {
            Provider::parse(name).ok_or_else(|| AccessError::UnknownProvider(name.into()))?
        }
    };
    if provider != Provider::Generic {
        return Err(AccessError::UnsupportedProvider(provider));
    }
    let address = data
        .get("address")
        .filter(|a| !a.is_empty())
        .ok_or(AccessError::MissingAddress)?;
    let server = canonical_address(address).map_err(|problem| AccessError::InvalidAddress {
        address: address.clone(),
        problem,
    })?;
    let ca_certs = match data.get("ca.crt").filter(|ca| !ca.trim().is_empty()) {
        Some(pem) => Some(certificates(pem)?),
        None => None,
    };
    let mut audiences: Vec<String> = data
        .get("audiences")
        .map(|a| {
            a.split('\n')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if audiences.is_empty() {
        audiences.push(address.clone());
    }
    Ok(ClusterAccess {
        server,
        ca_certs,
        audiences,
        service_account: data
            .get("serviceAccountName")
            .filter(|s| !s.is_empty())
            .cloned(),
    })
}

/// `https://<lowercase host>:<port>` of an API server address, as Flux canonicalises it: a
/// missing scheme is https, a missing port 443, and any other scheme is refused.
fn canonical_address(address: &str) -> Result<String, String> {
    let with_scheme = if address.starts_with("http") {
        address.to_owned()
    } else {
        format!("https://{address}")
    };
    let url: http::Uri = with_scheme.parse().map_err(|e| {
        format!("failed to parse Kubernetes API server address '{with_scheme}': {e}")
    })?;
    if url.scheme_str() != Some("https") {
        return Err(format!(
            "the Kubernetes API server address '{with_scheme}' must use https scheme"
        ));
    }
    let authority = url
        .authority()
        .filter(|a| !a.host().is_empty())
        .ok_or_else(|| {
            format!("failed to parse Kubernetes API server address '{with_scheme}': no host")
        })?;
    let host = authority.as_str().rsplit('@').next().unwrap_or_default();
    let host = if authority.port().is_some() {
        host.to_owned()
    } else {
        format!("{host}:443")
    };
    Ok(format!("https://{}", host.to_lowercase()))
}

/// The DER certificates of a PEM bundle; never echoes the bundle.
fn certificates(pem: &str) -> Result<Vec<Vec<u8>>, AccessError> {
    let certs: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|c| c.map(|c| c.as_ref().to_vec()))
        .collect::<Result<_, _>>()
        .map_err(|_| AccessError::InvalidCa)?;
    if certs.is_empty() {
        return Err(AccessError::InvalidCa);
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_missing_or_unknown_provider_is_refused_as_flux_words_it() {
        assert_eq!(parse(&data(&[])), Err(AccessError::MissingProvider));
        let err = parse(&data(&[("provider", "vault")])).expect_err("unknown");
        assert_eq!(err.to_string(), "provider 'vault' not implemented");
        assert!(
            AccessError::MissingProvider
                .to_string()
                .starts_with("provider '' not implemented")
        );
    }

    #[test]
    fn cloud_providers_are_refused_naming_the_provider() {
        for name in ["aws", "azure", "gcp"] {
            let err = parse(&data(&[("provider", name), ("cluster", "x")])).expect_err(name);
            assert!(
                matches!(err, AccessError::UnsupportedProvider(p) if p.name() == name),
                "{err}"
            );
            assert!(err.to_string().contains(&format!("provider '{name}'")));
        }
    }

    #[test]
    fn the_generic_provider_needs_an_https_address() {
        let err = parse(&data(&[("provider", "generic")])).expect_err("no address");
        assert_eq!(
            err.to_string(),
            "cluster address is required to create a REST config"
        );
        let err = parse(&data(&[
            ("provider", "generic"),
            ("address", "http://h:6443"),
        ]))
        .expect_err("http");
        assert_eq!(
            err.to_string(),
            "failed to parse cluster address http://h:6443: the Kubernetes API server address 'http://h:6443' must use https scheme"
        );
    }

    #[test]
    fn addresses_are_canonical_and_the_default_audience_is_the_address_as_written() {
        let access = parse(&data(&[
            ("provider", "generic"),
            ("address", "API.Example.com"),
        ]))
        .expect("valid");
        assert_eq!(access.server, "https://api.example.com:443");
        assert_eq!(access.audiences, vec!["API.Example.com".to_owned()]);
        assert_eq!(access.ca_certs, None);
        assert_eq!(access.service_account, None);
        let access = parse(&data(&[
            ("provider", "generic"),
            ("address", "https://127.0.0.1:6443/"),
            ("audiences", " one\n\ntwo \n"),
            ("serviceAccountName", "deployer"),
        ]))
        .expect("valid");
        assert_eq!(access.server, "https://127.0.0.1:6443");
        assert_eq!(access.audiences, vec!["one".to_owned(), "two".to_owned()]);
        assert_eq!(access.service_account.as_deref(), Some("deployer"));
    }

    #[test]
    fn a_ca_that_is_not_pem_is_an_error_that_does_not_quote_it() {
        let err = parse(&data(&[
            ("provider", "generic"),
            ("address", "https://h"),
            ("ca.crt", "not-a-certificate-xyz"),
        ]))
        .expect_err("bad CA");
        assert_eq!(err, AccessError::InvalidCa);
        assert!(!err.to_string().contains("xyz"));
    }

    #[test]
    fn a_pem_ca_bundle_is_read_as_der_certificates() {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["ca".to_owned()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        let bundle = format!("{}{}", cert.pem(), cert.pem());
        let access = parse(&data(&[
            ("provider", "generic"),
            ("address", "https://h"),
            ("ca.crt", &bundle),
        ]))
        .expect("valid");
        let certs = access.ca_certs.expect("certs");
        assert_eq!(certs.len(), 2);
        assert_eq!(certs[0], cert.der().to_vec());
    }
}
