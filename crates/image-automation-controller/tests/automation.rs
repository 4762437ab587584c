//! ImageUpdateAutomation end to end: the controller in-process against the local control
//! plane and a loopback git server. ImagePolicy status is set directly (server-side apply
//! of the status subresource), so no image-reflector-controller is involved.

use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use driftless_api::image::{ImagePolicy, ImageUpdateAutomation};
use driftless_api::source::GitRepository;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use testkit::git_server::{GitAuth, GitServer};
use testkit::{TestCluster, TestNamespace};

const SHARD_LABEL: &str = "driftless.test/shard";
const WAIT: Duration = Duration::from_secs(90);
const CRDS: [&str; 3] = [
    "gitrepositories.source.toolkit.fluxcd.io",
    "imagepolicies.image.toolkit.fluxcd.io",
    "imageupdateautomations.image.toolkit.fluxcd.io",
];

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: driftless_image_automation_controller::Args,
}

async fn install_crds(client: &kube::Client) -> anyhow::Result<()> {
    for name in CRDS {
        let crd = driftless_api::crds()
            .into_iter()
            .find(|c| c.metadata.name.as_deref() == Some(name))
            .with_context(|| format!("{name} is among driftless_api::crds()"))?;
        testkit::install_crd(client, &crd, "driftless-image-automation-tests").await?;
    }
    Ok(())
}

/// Runs the controller on this test's shard until the returned sender is dropped.
async fn start_controller(
    cluster: &TestCluster,
    shard: &str,
) -> anyhow::Result<tokio::sync::oneshot::Sender<()>> {
    let args = Cli::try_parse_from([
        "image-automation-controller".to_string(),
        "--metrics-addr=0".into(),
        "--health-addr=0".into(),
        format!("--watch-label-selector={SHARD_LABEL}={shard}"),
        "--min-retry-delay=100ms".into(),
        "--max-retry-delay=2s".into(),
    ])?
    .args;
    let config = cluster.plane.config().await?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(driftless_image_automation_controller::run(
        args,
        config,
        async move {
            let _ = rx.await;
        },
    ));
    Ok(tx)
}

async fn set_latest(api: &Api<ImagePolicy>, name: &str, tag: &str) -> anyhow::Result<()> {
    let status = json!({
        "apiVersion": "image.toolkit.fluxcd.io/v1",
        "kind": "ImagePolicy",
        "status": {"latestRef": {"name": "registry.example/podinfo", "tag": tag}},
    });
    api.patch_status(
        name,
        &PatchParams::apply("image-reflector-controller").force(),
        &Patch::Apply(status),
    )
    .await?;
    Ok(())
}

fn ready(obj: &ImageUpdateAutomation) -> Option<&Condition> {
    obj.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
}

async fn create<K>(api: &Api<K>, value: Value) -> anyhow::Result<()>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + serde::Serialize,
{
    let obj: K = serde_json::from_value(value)?;
    api.create(&PostParams::default(), &obj).await?;
    Ok(())
}

/// The GitRepository `fleet` at `url` (its spec merged with `repo_spec`), the ImagePolicy
/// `podinfo` with latest tag 1.2.4, the controller on this namespace's shard, and the
/// ImageUpdateAutomation `auto` updating `fleet`; the controller runs until the sender drops.
async fn automate_fleet(
    cluster: &TestCluster,
    namespace: &str,
    url: String,
    repo_spec: Value,
) -> anyhow::Result<(Api<ImageUpdateAutomation>, tokio::sync::oneshot::Sender<()>)> {
    let client = cluster.client.clone();
    let mut spec = json!({"url": url, "interval": "1h", "ref": {"branch": "main"}});
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), repo_spec.as_object()) {
        spec.extend(extra.clone());
    }
    let repos: Api<GitRepository> = Api::namespaced(client.clone(), namespace);
    create(
        &repos,
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "fleet"}, "spec": spec,
        }),
    )
    .await?;
    let policies: Api<ImagePolicy> = Api::namespaced(client.clone(), namespace);
    create(
        &policies,
        json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
            "metadata": {"name": "podinfo"},
            "spec": {"imageRepositoryRef": {"name": "podinfo"}, "policy": {"semver": {"range": "1.x"}}},
        }),
    )
    .await?;
    set_latest(&policies, "podinfo", "1.2.4").await?;
    let stop = start_controller(cluster, namespace).await?;
    let automations: Api<ImageUpdateAutomation> = Api::namespaced(client, namespace);
    create(
        &automations,
        json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageUpdateAutomation",
            "metadata": {"name": "auto", "labels": {SHARD_LABEL: namespace}},
            "spec": {
                "interval": "1h",
                "sourceRef": {"kind": "GitRepository", "name": "fleet"},
                "git": {"commit": {"author": {"email": "bot@example.invalid"}}},
            },
        }),
    )
    .await?;
    Ok((automations, stop))
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo # keep this comment
spec:
  template:
    spec:
      containers:
        - name: podinfo
          image: \"registry.example/podinfo:1.2.3\" # {\"$imagepolicy\": \"NS:podinfo\"}
";

const VALUES: &str = "image:
  repository: registry.example/podinfo # {\"$imagepolicy\": \"NS:podinfo:name\"}
  tag: 1.2.3   # {\"$imagepolicy\": \"NS:podinfo:tag\"}
";

const TEMPLATE: &str = "Automated update by {{ .AutomationObject }} for {{ .Values.cluster }}

{{ range $file, $_ := .Changed.FileChanges -}}
- {{ $file }}
{{ end -}}
{{ range .Changed.Changes -}}
{{ .Setter }}: {{ .OldValue }} -> {{ .NewValue }}
{{ end -}}";

#[tokio::test(flavor = "multi_thread")]
async fn a_new_latest_image_is_committed_and_pushed_with_the_templated_message_and_nothing_changed_makes_no_commit()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crds(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "iac-push").await?;
    let namespace = ns.name().to_string();
    let git = GitServer::start(GitAuth::None).await?;
    let repo = git.create_repo("fleet")?;
    git.allow_push("fleet")?;
    let deployment = DEPLOYMENT.replace("NS", &namespace);
    let values = VALUES.replace("NS", &namespace);
    let outside = format!(
        "image: registry.example/podinfo:1.2.3 # {{\"$imagepolicy\": \"{namespace}:podinfo\"}}\n"
    );
    let base = repo.commit_files(
        "main",
        &[
            ("apps/podinfo.yaml", deployment.as_str()),
            ("apps/values.yaml", values.as_str()),
            ("apps/README.md", "not yaml\n"),
            ("other/podinfo.yaml", outside.as_str()),
        ],
        "base",
    )?;

    let client = cluster.client.clone();
    let repos: Api<GitRepository> = Api::namespaced(client.clone(), &namespace);
    create(
        &repos,
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "fleet"},
            "spec": {"url": git.url("fleet"), "interval": "1h", "ref": {"branch": "main"}},
        }),
    )
    .await?;
    let policies: Api<ImagePolicy> = Api::namespaced(client.clone(), &namespace);
    create(
        &policies,
        json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
            "metadata": {"name": "podinfo"},
            "spec": {"imageRepositoryRef": {"name": "podinfo"}, "policy": {"semver": {"range": "1.x"}}},
        }),
    )
    .await?;
    set_latest(&policies, "podinfo", "1.2.4").await?;

    let _stop = start_controller(&cluster, &namespace).await?;
    let automations: Api<ImageUpdateAutomation> = Api::namespaced(client.clone(), &namespace);
    create(
        &automations,
        json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageUpdateAutomation",
            "metadata": {"name": "podinfo-update", "labels": {SHARD_LABEL: namespace}},
            "spec": {
                "interval": "1h",
                "sourceRef": {"kind": "GitRepository", "name": "fleet"},
                "git": {
                    "commit": {
                        "author": {"name": "fluxbot", "email": "fluxbot@example.invalid"},
                        "messageTemplate": TEMPLATE,
                        "messageTemplateValues": {"cluster": "prod"},
                    },
                    "push": {"branch": "main"},
                },
                "update": {"path": "./apps", "strategy": "Setters"},
            },
        }),
    )
    .await?;

    let pushed = testkit::wait::object(&automations, "podinfo-update", WAIT, "a push", |a| {
        a.status
            .as_ref()
            .is_some_and(|s| s.last_push_commit.is_some())
            && ready(a).is_some_and(|c| c.status == "True")
    })
    .await?;
    let status = pushed.status.clone().context("status")?;
    let head = git.git_in_repo("fleet", &["rev-parse", "main"])?;
    let head = head.trim();
    assert_ne!(head, base);
    assert_eq!(status.last_push_commit.as_deref(), Some(head));
    assert_eq!(
        status.observed_source_revision.as_deref(),
        Some(format!("main@sha1:{head}").as_str())
    );
    assert!(status.last_push_time.is_some() && status.last_automation_run_time.is_some());
    let observed = status.observed_policies.context("observedPolicies")?;
    assert_eq!(observed["podinfo"].tag, "1.2.4");
    let condition = ready(&pushed).context("Ready")?;
    assert_eq!(
        (condition.reason.as_str(), condition.message.as_str()),
        ("Succeeded", "repository up-to-date")
    );

    let message = git.git_in_repo("fleet", &["log", "-1", "--format=%an <%ae>%n%B", "main"])?;
    assert_eq!(
        message.trim_end(),
        format!(
            "fluxbot <fluxbot@example.invalid>\nAutomated update by {namespace}/podinfo-update for prod\n\n\
             - podinfo.yaml\n- values.yaml\n\
             {namespace}:podinfo: registry.example/podinfo:1.2.3 -> registry.example/podinfo:1.2.4\n\
             {namespace}:podinfo:tag: 1.2.3 -> 1.2.4"
        )
    );
    let show = |path: &str| git.git_in_repo("fleet", &["show", &format!("main:{path}")]);
    assert_eq!(
        show("apps/podinfo.yaml")?,
        deployment.replace("podinfo:1.2.3", "podinfo:1.2.4")
    );
    assert_eq!(
        show("apps/values.yaml")?,
        values.replace("tag: 1.2.3", "tag: 1.2.4")
    );
    assert_eq!(show("other/podinfo.yaml")?, outside, "outside update.path");
    let changed = git.git_in_repo("fleet", &["diff", "--name-only", &base, "main"])?;
    assert_eq!(changed, "apps/podinfo.yaml\napps/values.yaml\n");

    // Nothing new: a requested run makes no commit.
    automations
        .patch(
            "podinfo-update",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "again"}}}),
            ),
        )
        .await?;
    let again = testkit::wait::object(
        &automations,
        "podinfo-update",
        WAIT,
        "the requested run",
        |a| {
            a.status
                .as_ref()
                .is_some_and(|s| s.last_handled_reconcile_at.as_deref() == Some("again"))
        },
    )
    .await?;
    assert_eq!(
        git.git_in_repo("fleet", &["rev-parse", "main"])?.trim(),
        head
    );
    assert_eq!(
        again
            .status
            .as_ref()
            .and_then(|s| s.last_push_commit.as_deref()),
        Some(head)
    );

    // A newer image: the policy watch triggers the next commit on top of ours.
    set_latest(&policies, "podinfo", "1.2.5").await?;
    let next = testkit::wait::object(&automations, "podinfo-update", WAIT, "a second push", |a| {
        a.status
            .as_ref()
            .and_then(|s| s.last_push_commit.as_deref())
            .is_some_and(|c| c != head)
    })
    .await?;
    let second = git.git_in_repo("fleet", &["rev-parse", "main"])?;
    assert_eq!(
        next.status
            .as_ref()
            .and_then(|s| s.last_push_commit.as_deref()),
        Some(second.trim())
    );
    assert_eq!(
        git.git_in_repo("fleet", &["rev-parse", "main~1"])?.trim(),
        head
    );
    assert!(show("apps/podinfo.yaml")?.contains("\"registry.example/podinfo:1.2.5\" # {"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_from_the_gitrepository_secret_are_used_to_push_and_a_wrong_password_fails_without_leaking()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crds(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "iac-auth").await?;
    let namespace = ns.name().to_string();
    let git = GitServer::start(GitAuth::Basic {
        username: "bot".into(),
        password: "s3cret-pw".into(),
    })
    .await?;
    let repo = git.create_repo("fleet")?;
    let deployment = DEPLOYMENT.replace("NS", &namespace);
    let base = repo.commit_files("main", &[("podinfo.yaml", deployment.as_str())], "base")?;

    let client = cluster.client.clone();
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client.clone(), &namespace);
    create(
        &secrets,
        json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "git-auth"},
            "stringData": {"username": "bot", "password": "wrong-pw"},
        }),
    )
    .await?;
    let (automations, _stop) = automate_fleet(
        &cluster,
        &namespace,
        git.url("fleet"),
        json!({"secretRef": {"name": "git-auth"}}),
    )
    .await?;

    let failed = testkit::wait::object(&automations, "auto", WAIT, "an auth failure", |a| {
        ready(a).is_some_and(|c| c.status == "False")
    })
    .await?;
    let condition = ready(&failed).context("Ready")?;
    assert_eq!(condition.reason, "GitOperationFailed", "{condition:?}");
    assert!(
        condition.message.contains("authentication"),
        "{condition:?}"
    );
    assert!(!condition.message.contains("wrong-pw"), "{condition:?}");

    secrets
        .patch(
            "git-auth",
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": {"password": "s3cret-pw"}})),
        )
        .await?;
    automations
        .patch(
            "auto",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "fixed"}}}),
            ),
        )
        .await?;
    let pushed = testkit::wait::object(&automations, "auto", WAIT, "a push", |a| {
        a.status
            .as_ref()
            .is_some_and(|s| s.last_push_commit.is_some())
    })
    .await?;
    let head = git.git_in_repo("fleet", &["rev-parse", "main"])?;
    assert_ne!(head.trim(), base);
    assert_eq!(
        pushed
            .status
            .as_ref()
            .and_then(|s| s.last_push_commit.as_deref()),
        Some(head.trim())
    );
    assert_eq!(
        git.git_in_repo("fleet", &["log", "-1", "--format=%s", "main"])?
            .trim(),
        "Update from image update automation"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_push_goes_through_the_proxy_of_the_gitrepositorys_proxy_secret_ref()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crds(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "iac-proxy").await?;
    let namespace = ns.name().to_string();
    let git = GitServer::start(GitAuth::None).await?;
    let repo = git.create_repo("fleet")?;
    git.allow_push("fleet")?;
    let deployment = DEPLOYMENT.replace("NS", &namespace);
    let base = repo.commit_files("main", &[("podinfo.yaml", deployment.as_str())], "base")?;
    let proxy = testkit::proxy::ProxyServer::start(Some(("proxy-user", "proxy-pw"))).await?;

    let client = cluster.client.clone();
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client.clone(), &namespace);
    create(
        &secrets,
        json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "proxy"},
            "stringData": {"address": proxy.socks5_url(), "username": "proxy-user", "password": "proxy-pw"},
        }),
    )
    .await?;
    let (automations, _stop) = automate_fleet(
        &cluster,
        &namespace,
        git.url("fleet"),
        json!({"proxySecretRef": {"name": "proxy"}}),
    )
    .await?;

    testkit::wait::object(&automations, "auto", WAIT, "a push", |a| {
        a.status
            .as_ref()
            .is_some_and(|s| s.last_push_commit.is_some())
    })
    .await?;
    let head = git.git_in_repo("fleet", &["rev-parse", "main"])?;
    assert_ne!(head.trim(), base);
    let target = git
        .url("fleet")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .context("host:port")?
        .to_owned();
    let tunnels = proxy.tunnels();
    assert!(
        tunnels
            .iter()
            .any(|t| t.protocol == testkit::proxy::Protocol::Socks5 && t.target == target),
        "the clone and push did not go through the proxy: {tunnels:?}"
    );
    Ok(())
}
