//! Bucket against testkit's loopback S3 server (SigV4 verified, small listing pages): Ready with
//! an artifact whose revision is Flux's etag-index digest, a changed or deleted object making a
//! new revision, `spec.prefix`, the bucket's `.sourceignore` and `spec.ignore` choosing the
//! objects, wrong credentials and a missing bucket reported without secrets, and a HelmChart
//! packaged from a chart directory in the bucket.

mod common;
mod helm_common;

use std::collections::BTreeMap;

use anyhow::Context as _;
use common::*;
use driftless_api::source::{Bucket, HelmChart};
use driftless_artifact::{ExtractLimits, extract_tar_gz};
use helm_common::*;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::{Value, json};
use testkit::TestNamespace;
use testkit::s3_server::S3Server;

const ACCESS_KEY: &str = "AKIDDRIFTLESS";
const SECRET_KEY: &str = "bucket-secret-value-7f3a";

async fn install_bucket_crd(client: &kube::Client) -> anyhow::Result<()> {
    let crd = driftless_api::crds()
        .into_iter()
        .find(|c| c.metadata.name.as_deref() == Some("buckets.source.toolkit.fluxcd.io"))
        .context("driftless_api::crds() has the Bucket CRD")?;
    testkit::install_crd(client, &crd, "driftless-source-controller-tests").await
}

async fn create_keys(
    client: &kube::Client,
    ns: &str,
    name: &str,
    secret: &str,
) -> anyhow::Result<()> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let object: Secret = serde_json::from_value(json!({
        "metadata": {"name": name},
        "stringData": {"accesskey": ACCESS_KEY, "secretkey": secret},
    }))?;
    secrets.create(&PostParams::default(), &object).await?;
    Ok(())
}

fn bucket_object(name: &str, shard: &str, endpoint: &str, spec: Value) -> anyhow::Result<Bucket> {
    let mut full = json!({
        "bucketName": "flux",
        "endpoint": endpoint,
        "insecure": true,
        "interval": "1h0m0s",
        "secretRef": {"name": "s3-keys"},
    });
    if let (Some(base), Some(extra)) = (full.as_object_mut(), spec.as_object()) {
        base.extend(extra.clone());
    }
    Ok(serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "Bucket",
        "metadata": {"name": name, "labels": {SHARD_LABEL: shard}},
        "spec": full,
    }))?)
}

fn ready(bucket: &Bucket) -> Option<(String, String, String)> {
    let conditions = bucket.status.as_ref()?.conditions.as_ref()?;
    let c = conditions.iter().find(|c| c.type_ == "Ready")?;
    Some((c.status.clone(), c.reason.clone(), c.message.clone()))
}

async fn wait_bucket(
    api: &Api<Bucket>,
    name: &str,
    what: &str,
    check: impl Fn(&Bucket) -> bool,
) -> anyhow::Result<Bucket> {
    testkit::wait::object(api, name, WAIT, what, check).await
}

async fn wait_revision(api: &Api<Bucket>, name: &str, revision: &str) -> anyhow::Result<Bucket> {
    wait_bucket(api, name, &format!("{name} Ready at {revision}"), |b| {
        ready(b).is_some_and(|(s, _, _)| s == "True")
            && b.status
                .as_ref()
                .and_then(|s| s.artifact.as_ref())
                .is_some_and(|a| a.revision == revision)
    })
    .await
}

/// Flux's revision of `key -> etag` entries.
fn expected_revision(entries: &BTreeMap<String, String>) -> String {
    let text: String = entries.iter().map(|(k, e)| format!("{k} {e}\n")).collect();
    sha256(text.as_bytes())
}

/// The files of the Bucket's artifact, relative and sorted.
async fn artifact_files(bucket: &Bucket) -> anyhow::Result<Vec<String>> {
    let artifact = bucket
        .status
        .as_ref()
        .and_then(|s| s.artifact.as_ref())
        .context("artifact")?;
    let (status, body) = http_get(&artifact.url).await?;
    anyhow::ensure!(status == 200, "artifact download answered {status}");
    let dir = tempfile::tempdir()?;
    extract_tar_gz(body.as_slice(), dir.path(), &ExtractLimits::default())?;
    files_under(dir.path())
}

async fn delete_and_wait<K>(api: &Api<K>, name: &str) -> anyhow::Result<()>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + k8s_openapi::serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    api.delete(name, &DeleteParams::default()).await?;
    testkit::wait::until(WAIT, &format!("{name} deleted"), || {
        let api = api.clone();
        let name = name.to_owned();
        async move {
            match api.get_opt(&name).await {
                Ok(None) => Ok(Some(())),
                Ok(Some(_)) => Ok(None),
                Err(e) => Err(e.to_string()),
            }
        }
    })
    .await
    .map_err(anyhow::Error::msg)
}

#[tokio::test]
async fn a_bucket_becomes_ready_with_fluxs_revision_and_follows_object_changes()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_bucket_crd(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-bucket").await?;
    let s3 = S3Server::start(Some((ACCESS_KEY, SECRET_KEY))).await?;
    // Two keys a page: the listing has to follow continuation tokens.
    s3.set_page_size(2);
    let mut entries = BTreeMap::new();
    for (key, body) in [
        ("apps/deploy.yaml", "kind: Deployment\n"),
        ("apps/service.yaml", "kind: Service\n"),
        ("logo.png", "png"),
        ("dir/", ""),
    ] {
        let etag = s3.put_object("flux", key, body);
        if key != "dir/" {
            entries.insert(key.to_owned(), etag);
        }
    }
    create_keys(&cluster.client, ns.name(), "s3-keys", SECRET_KEY).await?;
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let api: Api<Bucket> = Api::namespaced(cluster.client.clone(), ns.name());
    api.create(
        &PostParams::default(),
        &bucket_object("podinfo", ns.name(), &s3.endpoint(), json!({}))?,
    )
    .await?;

    let revision = expected_revision(&entries);
    let bucket = wait_revision(&api, "podinfo", &revision).await?;
    let (_, reason, message) = ready(&bucket).context("Ready")?;
    assert_eq!(reason, "Succeeded");
    assert_eq!(message, format!("stored artifact: revision '{revision}'"));
    let status = bucket.status.clone().context("status")?;
    let artifact = status.artifact.clone().context("artifact")?;
    assert!(
        artifact
            .path
            .ends_with(&format!("{}.tar.gz", &revision["sha256:".len()..])),
        "{}",
        artifact.path
    );
    assert!(
        status
            .url
            .as_deref()
            .is_some_and(|u| u.ends_with("/bucket/")
                || u.ends_with(&format!("bucket/{}/podinfo/latest.tar.gz", ns.name()))),
        "{:?}",
        status.url
    );
    // Flux archives a bucket unfiltered: the image stays.
    assert_eq!(
        artifact_files(&bucket).await?,
        vec!["apps/deploy.yaml", "apps/service.yaml", "logo.png"]
    );
    let list_pages = s3
        .requests()
        .iter()
        .filter(|r| r.starts_with("GET /flux?"))
        .count();
    assert!(list_pages >= 2, "{:?}", s3.requests());
    wait_event(&cluster.client, ns.name(), "NewArtifact event", |e| {
        e.reason.as_deref() == Some("NewArtifact")
            && e.message.as_deref()
                == Some("stored artifact with 3 fetched files from 'flux' bucket")
    })
    .await?;

    // A changed object and a deleted one make a new revision.
    let etag = s3.put_object(
        "flux",
        "apps/deploy.yaml",
        "kind: Deployment\nreplicas: 2\n",
    );
    entries.insert("apps/deploy.yaml".to_owned(), etag);
    s3.delete_object("flux", "logo.png");
    entries.remove("logo.png");
    request_reconcile_helm(&api, "podinfo", "one").await?;
    let revision = expected_revision(&entries);
    let bucket = wait_revision(&api, "podinfo", &revision).await?;
    assert_eq!(
        artifact_files(&bucket).await?,
        vec!["apps/deploy.yaml", "apps/service.yaml"]
    );

    delete_and_wait(&api, "podinfo").await?;
    controller.stop().await
}

#[tokio::test]
async fn prefix_sourceignore_and_spec_ignore_choose_the_objects() -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_bucket_crd(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-bucket-ignore").await?;
    let s3 = S3Server::start(Some((ACCESS_KEY, SECRET_KEY))).await?;
    s3.put_object("flux", ".sourceignore", "*.md\n");
    for key in [
        "apps/app.yaml",
        "apps/README.md",
        "apps/CHANGELOG.md",
        "apps/tmp/scratch.yaml",
        "other/x.yaml",
    ] {
        s3.put_object("flux", key, key);
    }
    create_keys(&cluster.client, ns.name(), "s3-keys", SECRET_KEY).await?;
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let api: Api<Bucket> = Api::namespaced(cluster.client.clone(), ns.name());
    api.create(
        &PostParams::default(),
        &bucket_object(
            "apps",
            ns.name(),
            &s3.endpoint(),
            json!({"prefix": "apps/", "ignore": "tmp/\n!apps/README.md\n"}),
        )?,
    )
    .await?;
    let bucket = wait_bucket(&api, "apps", "apps Ready=True", |b| {
        ready(b).is_some_and(|(s, _, _)| s == "True")
    })
    .await?;
    // The bucket's .sourceignore drops *.md, spec.ignore re-includes one and drops tmp/; the
    // prefix leaves other/ out. The .sourceignore itself is read, not indexed.
    assert_eq!(
        artifact_files(&bucket).await?,
        vec![".sourceignore", "apps/README.md", "apps/app.yaml"]
    );
    assert_eq!(
        bucket
            .status
            .as_ref()
            .and_then(|s| s.observed_ignore.as_deref()),
        Some("tmp/\n!apps/README.md\n")
    );
    delete_and_wait(&api, "apps").await?;
    controller.stop().await
}

#[tokio::test]
async fn wrong_credentials_and_a_missing_bucket_fail_clearly_without_secrets() -> anyhow::Result<()>
{
    let cluster = testkit::cluster().await?;
    install_bucket_crd(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-bucket-fail").await?;
    let s3 = S3Server::start(Some((ACCESS_KEY, SECRET_KEY))).await?;
    s3.put_object("flux", "a.yaml", "a: 1\n");
    let wrong_secret = "not-the-right-secret-91c2";
    create_keys(&cluster.client, ns.name(), "s3-keys", wrong_secret).await?;
    create_keys(&cluster.client, ns.name(), "good-keys", SECRET_KEY).await?;
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let api: Api<Bucket> = Api::namespaced(cluster.client.clone(), ns.name());
    api.create(
        &PostParams::default(),
        &bucket_object("denied", ns.name(), &s3.endpoint(), json!({}))?,
    )
    .await?;
    api.create(
        &PostParams::default(),
        &bucket_object(
            "absent",
            ns.name(),
            &s3.endpoint(),
            json!({"bucketName": "no-such-bucket", "secretRef": {"name": "good-keys"}}),
        )?,
    )
    .await?;
    api.create(
        &PostParams::default(),
        &bucket_object(
            "no-secret",
            ns.name(),
            &s3.endpoint(),
            json!({"secretRef": {"name": "missing"}}),
        )?,
    )
    .await?;

    let denied = wait_bucket(&api, "denied", "denied Ready=False", |b| {
        ready(b).is_some_and(|(s, r, _)| s == "False" && r == "BucketOperationFailed")
    })
    .await?;
    let (_, _, message) = ready(&denied).context("Ready")?;
    assert!(
        message.starts_with("failed to confirm existence of 'flux' bucket: ")
            && message.contains("SignatureDoesNotMatch"),
        "{message}"
    );
    assert!(
        !message.contains(wrong_secret) && !message.contains(SECRET_KEY),
        "{message}"
    );

    let absent = wait_bucket(&api, "absent", "absent Ready=False", |b| {
        ready(b).is_some_and(|(s, r, _)| s == "False" && r == "BucketOperationFailed")
    })
    .await?;
    assert_eq!(
        ready(&absent).map(|r| r.2),
        Some("bucket 'no-such-bucket' not found".to_owned())
    );

    let no_secret = wait_bucket(&api, "no-secret", "no-secret Ready=False", |b| {
        ready(b).is_some_and(|(s, r, _)| s == "False" && r == "AuthenticationFailed")
    })
    .await?;
    assert!(
        ready(&no_secret).is_some_and(|r| r
            .2
            .starts_with(&format!("failed to get secret '{}/missing'", ns.name()))),
        "{:?}",
        ready(&no_secret)
    );

    // Fixing the Secret reference recovers on the next reconcile.
    merge_spec(&api, "denied", json!({"secretRef": {"name": "good-keys"}})).await?;
    wait_bucket(&api, "denied", "denied recovers", |b| {
        ready(b).is_some_and(|(s, _, _)| s == "True")
    })
    .await?;
    for name in ["denied", "absent", "no-secret"] {
        delete_and_wait(&api, name).await?;
    }
    controller.stop().await
}

#[tokio::test]
async fn a_helm_chart_from_a_bucket_packages_the_chart_directory() -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_bucket_crd(&cluster.client).await?;
    install_helm_crds(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-bucket-chart").await?;
    let s3 = S3Server::start(Some((ACCESS_KEY, SECRET_KEY))).await?;
    s3.put_object(
        "flux",
        "charts/podinfo/Chart.yaml",
        "apiVersion: v2\nname: podinfo\nversion: 6.5.0\n",
    );
    s3.put_object("flux", "charts/podinfo/values.yaml", "replicas: 1\n");
    s3.put_object(
        "flux",
        "charts/podinfo/templates/cm.yaml",
        "kind: ConfigMap\n",
    );
    create_keys(&cluster.client, ns.name(), "s3-keys", SECRET_KEY).await?;
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let buckets: Api<Bucket> = Api::namespaced(cluster.client.clone(), ns.name());
    let charts: Api<HelmChart> = Api::namespaced(cluster.client.clone(), ns.name());
    buckets
        .create(
            &PostParams::default(),
            &bucket_object("charts", ns.name(), &s3.endpoint(), json!({}))?,
        )
        .await?;
    let chart = chart_object(
        "podinfo",
        ns.name(),
        json!({
            "chart": "./charts/podinfo",
            "interval": "1h0m0s",
            "sourceRef": {"kind": "Bucket", "name": "charts"},
        }),
    )?;
    charts.create(&PostParams::default(), &chart).await?;
    let chart = chart_ready_is(&charts, "podinfo", "True", "ChartPackageSucceeded").await?;
    let artifact = chart
        .status
        .as_ref()
        .and_then(|s| s.artifact.clone())
        .context("chart artifact")?;
    assert_eq!(artifact.revision, "6.5.0");
    let (_, tgz) = http_get(&artifact.url).await?;
    let packaged = driftless_helm::Chart::from_files(driftless_helm::archive::files(&tgz)?)?;
    assert_eq!(packaged.metadata.name, "podinfo");
    assert_eq!(packaged.templates.len(), 1);

    // A new chart version in the bucket reaches the chart through the Bucket watch.
    s3.put_object(
        "flux",
        "charts/podinfo/Chart.yaml",
        "apiVersion: v2\nname: podinfo\nversion: 6.6.0\n",
    );
    request_reconcile_helm(&buckets, "charts", "one").await?;
    chart_until(&charts, "podinfo", "chart 6.6.0 packaged", |c| {
        c.status
            .as_ref()
            .and_then(|s| s.artifact.as_ref())
            .is_some_and(|a| a.revision == "6.6.0")
    })
    .await?;
    delete_and_wait(&charts, "podinfo").await?;
    delete_and_wait(&buckets, "charts").await?;
    controller.stop().await
}

#[tokio::test]
async fn https_trusts_the_ca_of_cert_secret_ref_and_refuses_an_unknown_one() -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_bucket_crd(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-bucket-tls").await?;
    let s3 = S3Server::start_tls(Some((ACCESS_KEY, SECRET_KEY))).await?;
    s3.put_object("flux", "a.yaml", "a: 1\n");
    create_keys(&cluster.client, ns.name(), "s3-keys", SECRET_KEY).await?;
    let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), ns.name());
    let ca: Secret = serde_json::from_value(json!({
        "metadata": {"name": "s3-ca"},
        "stringData": {"ca.crt": s3.ca_pem().context("ca")?},
    }))?;
    secrets.create(&PostParams::default(), &ca).await?;
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let api: Api<Bucket> = Api::namespaced(cluster.client.clone(), ns.name());
    api.create(
        &PostParams::default(),
        &bucket_object(
            "trusted",
            ns.name(),
            &s3.endpoint(),
            json!({"insecure": false, "certSecretRef": {"name": "s3-ca"}}),
        )?,
    )
    .await?;
    api.create(
        &PostParams::default(),
        &bucket_object(
            "untrusted",
            ns.name(),
            &s3.endpoint(),
            json!({"insecure": false}),
        )?,
    )
    .await?;
    let trusted = wait_bucket(&api, "trusted", "trusted Ready=True", |b| {
        ready(b).is_some_and(|(s, _, _)| s == "True")
    })
    .await?;
    assert_eq!(artifact_files(&trusted).await?, vec!["a.yaml"]);
    let untrusted = wait_bucket(&api, "untrusted", "untrusted Ready=False", |b| {
        ready(b).is_some_and(|(s, r, _)| s == "False" && r == "BucketOperationFailed")
    })
    .await?;
    let message = ready(&untrusted).map(|r| r.2).unwrap_or_default();
    assert!(
        message.starts_with("failed to confirm existence of 'flux' bucket: request to https://"),
        "{message}"
    );
    for name in ["trusted", "untrusted"] {
        delete_and_wait(&api, name).await?;
    }
    controller.stop().await
}

#[tokio::test]
async fn odd_key_names_download_and_a_key_escaping_the_bucket_is_refused() -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_bucket_crd(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-bucket-keys").await?;
    let s3 = S3Server::start(Some((ACCESS_KEY, SECRET_KEY))).await?;
    s3.put_object("flux", "apps/a b&c+d=ü.yaml", "a: 1\n");
    s3.put_object("flux", "apps/plain.yaml", "b: 2\n");
    create_keys(&cluster.client, ns.name(), "s3-keys", SECRET_KEY).await?;
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let api: Api<Bucket> = Api::namespaced(cluster.client.clone(), ns.name());
    api.create(
        &PostParams::default(),
        &bucket_object("keys", ns.name(), &s3.endpoint(), json!({}))?,
    )
    .await?;
    let bucket = wait_bucket(&api, "keys", "keys Ready=True", |b| {
        ready(b).is_some_and(|(s, _, _)| s == "True")
    })
    .await?;
    assert_eq!(
        artifact_files(&bucket).await?,
        vec!["apps/a b&c+d=ü.yaml", "apps/plain.yaml"]
    );

    // A key that would be written outside the working directory fails the reconcile; the
    // artifact already stored stays.
    s3.put_object("flux", "apps/../../escape.yaml", "x");
    request_reconcile_helm(&api, "keys", "one").await?;
    let bucket = wait_bucket(&api, "keys", "keys Ready=False", |b| {
        ready(b).is_some_and(|(s, r, _)| s == "False" && r == "BucketOperationFailed")
    })
    .await?;
    assert_eq!(
        ready(&bucket).map(|r| r.2),
        Some(
            "indexation of objects from bucket 'flux' failed: object key 'apps/../../escape.yaml' is not a relative path inside the bucket"
                .to_owned()
        )
    );
    assert!(
        bucket
            .status
            .as_ref()
            .and_then(|s| s.artifact.as_ref())
            .is_some()
    );
    delete_and_wait(&api, "keys").await?;
    controller.stop().await
}
