//! The S3 client for one Bucket, as Flux's generic (MinIO) provider builds it: static
//! credentials from `spec.secretRef` (`accesskey`/`secretkey`), TLS from `spec.certSecretRef`
//! (`ca.crt`, `tls.crt`/`tls.key`, read as for Helm repositories), an HTTP proxy from
//! `spec.proxySecretRef` (`address`, optional `username`/`password`), `spec.region`,
//! `spec.insecure` and `spec.timeout`. What needs cloud identity (the `gcp` and `azure`
//! providers, `aws` without a Secret, STS, `serviceAccountName`) stalls, saying so.

use std::collections::BTreeMap;
use std::time::Duration;

use driftless_api::conditions::reasons;
use driftless_api::source::{Bucket, BucketProvider};
use driftless_s3::{Addressing, Client, ClientOptions, Credentials, ProxyConfig};
use k8s_openapi::ByteString;
use kube::ResourceExt;

use super::error::BucketError;
use crate::credentials::secret_data;
use crate::error::ReconcileError;
use crate::helm_repository::client::{TlsKeys, tls_config};
use crate::reconcile::parse_duration;

/// Flux's default `spec.timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// `spec.timeout`, 60s when unset.
pub fn timeout(bucket: &Bucket) -> Result<Duration, ReconcileError> {
    match bucket.spec.timeout.as_deref() {
        Some(value) => parse_duration("spec.timeout", value),
        None => Ok(DEFAULT_TIMEOUT),
    }
}

/// Spec features needing cloud identity, refused with a message naming the field.
pub fn check_supported(bucket: &Bucket) -> Result<(), ReconcileError> {
    let spec = &bucket.spec;
    let unsupported = |feature, detail| {
        Err(ReconcileError::Unsupported {
            feature,
            detail,
            reason: reasons::INVALID_PROVIDER_CONFIGURATION,
        })
    };
    match spec.provider.unwrap_or_default() {
        BucketProvider::Generic => {}
        BucketProvider::Aws if spec.secret_ref.is_some() => {}
        BucketProvider::Aws => {
            return unsupported(
                "spec.provider 'aws' without spec.secretRef",
                "credentials from the AWS environment (IRSA, instance profiles) are not implemented; give static keys in spec.secretRef",
            );
        }
        BucketProvider::Gcp => {
            return unsupported(
                "spec.provider 'gcp'",
                "Google Cloud Storage is not implemented; use its S3-compatible endpoint with the generic provider and HMAC keys",
            );
        }
        BucketProvider::Azure => {
            return unsupported(
                "spec.provider 'azure'",
                "Azure Blob Storage is not implemented",
            );
        }
    }
    if spec.sts.is_some() {
        return Err(ReconcileError::Unsupported {
            feature: "spec.sts",
            detail: "temporary credentials from a Security Token Service are not implemented",
            reason: reasons::INVALID_STS_CONFIGURATION,
        });
    }
    if spec.service_account_name.is_some() {
        return unsupported(
            "spec.serviceAccountName",
            "workload identity is not implemented; give static keys in spec.secretRef",
        );
    }
    Ok(())
}

/// The client for `bucket`, reading its Secrets.
pub async fn client_for(kube: &kube::Client, bucket: &Bucket) -> Result<Client, BucketError> {
    let spec = &bucket.spec;
    let namespace = bucket.namespace().unwrap_or_default();
    let invalid = |name: &str, problem: String| ReconcileError::InvalidSecret {
        namespace: namespace.clone(),
        name: name.to_owned(),
        problem,
    };
    let credentials = match &spec.secret_ref {
        Some(secret_ref) => {
            let data = secret_data(kube, &namespace, &secret_ref.name).await?;
            Some(static_credentials(&data).map_err(|p| invalid(&secret_ref.name, p))?)
        }
        None => None,
    };
    let proxy = match &spec.proxy_secret_ref {
        Some(proxy_ref) => {
            let data = secret_data(kube, &namespace, &proxy_ref.name).await?;
            Some(proxy_config(&data).map_err(|p| invalid(&proxy_ref.name, p))?)
        }
        None => None,
    };
    let tls = match &spec.cert_secret_ref {
        Some(cert_ref) => {
            let data = secret_data(kube, &namespace, &cert_ref.name).await?;
            tls_config(&TlsKeys::from_data(&data)).map_err(|p| invalid(&cert_ref.name, p))?
        }
        None => tls_config(&TlsKeys::default())
            .map_err(|p| BucketError::Client(driftless_s3::S3Error::Client(p)))?,
    };
    Client::new(ClientOptions {
        endpoint: spec.endpoint.clone(),
        insecure: spec.insecure.unwrap_or(false),
        region: spec.region.clone(),
        credentials,
        tls: Some(tls),
        proxy,
        timeout: timeout(bucket)?,
        addressing: Addressing::Auto,
    })
    .map_err(BucketError::Client)
}

fn text(data: &BTreeMap<String, ByteString>, key: &str) -> Result<Option<String>, String> {
    data.get(key)
        .map(|v| {
            String::from_utf8(v.0.clone()).map_err(|_| format!("key '{key}' is not valid UTF-8"))
        })
        .transpose()
}

/// Flux's MinIO keys: `accesskey` and `secretkey`, both required. Problems name keys only.
pub fn static_credentials(data: &BTreeMap<String, ByteString>) -> Result<Credentials, String> {
    match (text(data, "accesskey")?, text(data, "secretkey")?) {
        (Some(access_key), Some(secret_key))
            if !access_key.is_empty() && !secret_key.is_empty() =>
        {
            Ok(Credentials {
                access_key: access_key.trim().to_owned(),
                secret_key: secret_key.trim().to_owned(),
                session_token: None,
            })
        }
        _ => Err("required fields 'accesskey' and 'secretkey'".to_owned()),
    }
}

/// Flux's proxy keys: `address` required, `username`/`password` optional.
pub fn proxy_config(data: &BTreeMap<String, ByteString>) -> Result<ProxyConfig, String> {
    let Some(url) = text(data, "address")?.filter(|a| !a.is_empty()) else {
        return Err("key 'address' is missing".to_owned());
    };
    Ok(ProxyConfig {
        url,
        username: text(data, "username")?,
        password: text(data, "password")?,
    })
}

#[cfg(test)]
mod tests {
    use driftless_api::meta::LocalObjectReference;
    use driftless_api::source::BucketSpec;

    use super::*;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, ByteString> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec())))
            .collect()
    }

    #[test]
    fn static_keys_need_both_fields_and_errors_never_show_values() {
        let creds = static_credentials(&data(&[("accesskey", "AK"), ("secretkey", "SK\n")]))
            .expect("valid");
        assert_eq!(
            (creds.access_key.as_str(), creds.secret_key.as_str()),
            ("AK", "SK")
        );
        let err = static_credentials(&data(&[("secretkey", "hunter2")])).expect_err("half");
        assert_eq!(err, "required fields 'accesskey' and 'secretkey'");
    }

    #[test]
    fn a_proxy_needs_an_address() {
        assert!(proxy_config(&data(&[("username", "u")])).is_err());
        let proxy = proxy_config(&data(&[("address", "http://proxy:3128")])).expect("valid");
        assert_eq!(proxy.url, "http://proxy:3128");
        assert_eq!(proxy.username, None);
    }

    #[test]
    fn cloud_providers_without_static_keys_stall_naming_the_field() {
        let bucket = |spec: BucketSpec| Bucket::new("b", spec);
        let generic = BucketSpec::default();
        assert!(check_supported(&bucket(generic.clone())).is_ok());
        let aws = BucketSpec {
            provider: Some(BucketProvider::Aws),
            ..generic.clone()
        };
        let err = check_supported(&bucket(aws.clone())).expect_err("no keys");
        assert!(err.to_string().contains("spec.provider 'aws'"), "{err}");
        let aws_keys = BucketSpec {
            secret_ref: Some(LocalObjectReference {
                name: "keys".into(),
            }),
            ..aws
        };
        assert!(check_supported(&bucket(aws_keys)).is_ok());
        let azure = BucketSpec {
            provider: Some(BucketProvider::Azure),
            ..generic
        };
        assert!(check_supported(&bucket(azure)).is_err());
    }
}
