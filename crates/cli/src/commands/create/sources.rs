//! The source kinds `create source` builds, from flux's flags: GitRepository, HelmRepository,
//! OCIRepository and Bucket. Each builder returns the object's `spec` (the caller adds the
//! type and metadata) or the error flux prints for the same flags.

use clap::Args;
use serde_json::{Map, Value, json};

use super::super::cluster::ClusterError;

/// Flags of `create source git`.
#[derive(Debug, Args)]
pub struct GitFlags {
    pub name: String,
    #[arg(long)]
    pub url: String,
    #[arg(long)]
    pub branch: Option<String>,
    #[arg(long)]
    pub tag: Option<String>,
    #[arg(long = "tag-semver")]
    pub semver: Option<String>,
    #[arg(long)]
    pub commit: Option<String>,
    #[arg(long)]
    pub ref_name: Option<String>,
    /// The name of an existing Secret with the git credentials.
    #[arg(long)]
    pub secret_ref: Option<String>,
    #[arg(long, value_delimiter = ',')]
    pub ignore_paths: Vec<String>,
    #[arg(long, value_delimiter = ',')]
    pub sparse_checkout_paths: Vec<String>,
    #[arg(long)]
    pub recurse_submodules: bool,
}

/// Flags of `create source helm`.
#[derive(Debug, Args)]
pub struct HelmFlags {
    pub name: String,
    /// Helm repository address (http, https or oci).
    #[arg(long)]
    pub url: String,
    /// The name of an existing Secret with the repository credentials.
    #[arg(long)]
    pub secret_ref: Option<String>,
    /// Pass the credentials to every host the index links to.
    #[arg(long)]
    pub pass_credentials: bool,
    /// The OCI provider (generic, aws, azure, gcp).
    #[arg(long, default_value = "generic")]
    pub oci_provider: String,
}

/// Flags of `create source oci`.
#[derive(Debug, Args)]
pub struct OciFlags {
    pub name: String,
    /// The OCI repository address (`oci://` may be omitted).
    #[arg(long, default_value = "")]
    pub url: String,
    #[arg(long)]
    pub tag: Option<String>,
    #[arg(long)]
    pub tag_semver: Option<String>,
    #[arg(long)]
    pub digest: Option<String>,
    /// The name of an existing `.dockerconfigjson` Secret.
    #[arg(long)]
    pub secret_ref: Option<String>,
    /// The registry provider (generic, aws, azure, gcp).
    #[arg(long, default_value = "generic")]
    pub provider: String,
    #[arg(long, value_delimiter = ',')]
    pub ignore_paths: Vec<String>,
    /// Allow plain HTTP to the registry.
    #[arg(long)]
    pub insecure: bool,
    /// The media type of the layer to take.
    #[arg(long)]
    pub layer_media_type: Option<String>,
    /// `extract` or `copy` the selected layer.
    #[arg(long)]
    pub layer_operation: Option<String>,
}

/// Flags of `create source bucket`.
#[derive(Debug, Args)]
pub struct BucketFlags {
    pub name: String,
    #[arg(long, default_value = "")]
    pub bucket_name: String,
    #[arg(long, default_value = "")]
    pub endpoint: String,
    /// The S3-compatible provider (generic, aws, azure, gcp).
    #[arg(long, default_value = "generic")]
    pub provider: String,
    #[arg(long)]
    pub region: Option<String>,
    /// Plain HTTP to the endpoint.
    #[arg(long)]
    pub insecure: bool,
    /// The name of an existing Secret with `accesskey` and `secretkey`.
    #[arg(long)]
    pub secret_ref: Option<String>,
    #[arg(long, value_delimiter = ',')]
    pub ignore_paths: Vec<String>,
}

fn invalid(message: impl Into<String>) -> ClusterError {
    ClusterError::Invalid(message.into())
}

fn secret_ref(spec: &mut Value, secret: Option<&String>) {
    if let Some(name) = secret {
        spec["secretRef"] = json!({"name": name});
    }
}

fn ignore(spec: &mut Value, paths: &[String]) {
    if !paths.is_empty() {
        spec["ignore"] = json!(paths.join("\n"));
    }
}

/// A GitRepository spec.
pub fn git(git: &GitFlags, interval: &str) -> Result<Value, ClusterError> {
    let url_ok = ["http://", "https://", "ssh://"]
        .iter()
        .any(|s| git.url.starts_with(s));
    if !url_ok {
        return Err(invalid(format!(
            "git URL scheme '{}' not supported, can be: ssh, http and https",
            git.url.split("://").next().unwrap_or_default()
        )));
    }
    let mut reference = Map::new();
    for (key, value) in [
        ("branch", &git.branch),
        ("tag", &git.tag),
        ("semver", &git.semver),
        ("commit", &git.commit),
        ("name", &git.ref_name),
    ] {
        if let Some(v) = value {
            reference.insert(key.to_owned(), json!(v));
        }
    }
    if reference.is_empty() {
        return Err(invalid(
            "a Git ref is required, use one of the following: --branch, --tag, --commit, --ref-name or --tag-semver",
        ));
    }
    let mut spec = json!({"interval": interval, "url": git.url, "ref": reference});
    secret_ref(&mut spec, git.secret_ref.as_ref());
    ignore(&mut spec, &git.ignore_paths);
    if !git.sparse_checkout_paths.is_empty() {
        spec["sparseCheckout"] = json!(git.sparse_checkout_paths);
    }
    if git.recurse_submodules {
        spec["recurseSubmodules"] = json!(true);
    }
    Ok(json!({"spec": spec}))
}

/// A HelmRepository spec; an `oci://` URL makes it `type: oci`.
pub fn helm(helm: &HelmFlags, interval: &str) -> Result<Value, ClusterError> {
    let scheme = helm.url.split("://").next().unwrap_or_default();
    if !["http", "https", "oci"].contains(&scheme) || !helm.url.contains("://") {
        return Err(invalid(format!(
            "url scheme '{scheme}' not supported, can be: http, https and oci"
        )));
    }
    let mut spec = json!({"interval": interval, "url": helm.url});
    if scheme == "oci" {
        spec["type"] = json!("oci");
        if helm.oci_provider != "generic" {
            spec["provider"] = json!(helm.oci_provider);
        }
    }
    secret_ref(&mut spec, helm.secret_ref.as_ref());
    if helm.pass_credentials {
        spec["passCredentials"] = json!(true);
    }
    Ok(json!({"spec": spec}))
}

/// An OCIRepository spec.
pub fn oci(oci: &OciFlags, interval: &str) -> Result<Value, ClusterError> {
    if oci.url.is_empty() {
        return Err(invalid("url is required"));
    }
    let url = if oci.url.starts_with("oci://") {
        oci.url.clone()
    } else {
        format!("oci://{}", oci.url)
    };
    let mut reference = Map::new();
    for (key, value) in [
        ("tag", &oci.tag),
        ("semver", &oci.tag_semver),
        ("digest", &oci.digest),
    ] {
        if let Some(v) = value {
            reference.insert(key.to_owned(), json!(v));
        }
    }
    if reference.is_empty() {
        return Err(invalid(
            "one of --tag, --tag-semver or --digest is required",
        ));
    }
    let mut spec = json!({"interval": interval, "url": url, "ref": reference});
    if oci.provider != "generic" {
        spec["provider"] = json!(oci.provider);
    }
    secret_ref(&mut spec, oci.secret_ref.as_ref());
    ignore(&mut spec, &oci.ignore_paths);
    if oci.insecure {
        spec["insecure"] = json!(true);
    }
    if oci.layer_media_type.is_some() || oci.layer_operation.is_some() {
        let mut selector = Map::new();
        if let Some(media_type) = &oci.layer_media_type {
            selector.insert("mediaType".into(), json!(media_type));
        }
        if let Some(operation) = &oci.layer_operation {
            if operation != "extract" && operation != "copy" {
                return Err(invalid(format!(
                    "layer operation '{operation}' not supported, can be: extract and copy"
                )));
            }
            selector.insert("operation".into(), json!(operation));
        }
        spec["layerSelector"] = Value::Object(selector);
    }
    Ok(json!({"spec": spec}))
}

/// A Bucket spec.
pub fn bucket(bucket: &BucketFlags, interval: &str) -> Result<Value, ClusterError> {
    if bucket.bucket_name.is_empty() {
        return Err(invalid("bucket-name is required"));
    }
    if bucket.endpoint.is_empty() {
        return Err(invalid("endpoint is required"));
    }
    let mut spec = json!({"bucketName": bucket.bucket_name, "endpoint": bucket.endpoint,
        "interval": interval, "provider": bucket.provider});
    if let Some(region) = &bucket.region {
        spec["region"] = json!(region);
    }
    if bucket.insecure {
        spec["insecure"] = json!(true);
    }
    secret_ref(&mut spec, bucket.secret_ref.as_ref());
    ignore(&mut spec, &bucket.ignore_paths);
    Ok(json!({"spec": spec}))
}
