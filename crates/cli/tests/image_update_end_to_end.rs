//! New image, new commit, new rollout — every controller involved, in-process on one label
//! shard: a tag pushed to the loopback registry is scanned by image-reflector-controller, the
//! ImagePolicy picks it, image-automation-controller rewrites the setter marker (keeping the
//! comments) and pushes a commit to the loopback git server, source-controller fetches it and
//! kustomize-controller rolls the Deployment to the new image.

#[allow(unused_imports)]
#[path = "../../image-reflector-controller/tests/common/mod.rs"]
mod irc;
#[path = "../../kustomize-controller/tests/common/mod.rs"]
mod kc;
#[allow(unused_imports)]
#[path = "../../source-controller/tests/common/mod.rs"]
mod sc;

use std::time::Duration;

use clap::Parser;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};
use testkit::git_server::{GitAuth, GitServer};
use testkit::oci_registry::{OciRegistry, RegistryAuth};

const WAIT: Duration = Duration::from_secs(90);

#[derive(Debug, Parser)]
struct AutomationCli {
    #[command(flatten)]
    args: driftless_image_automation_controller::Args,
}

fn flux_api(
    client: &kube::Client,
    ns: &str,
    group: &str,
    version: &str,
    kind: &str,
) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    Api::namespaced_with(client.clone(), ns, &resource)
}

async fn create(api: &Api<DynamicObject>, object: Value) {
    let object: DynamicObject = serde_json::from_value(object).expect("object");
    api.create(&PostParams::default(), &object)
        .await
        .expect("created");
}

fn image_of(deployment: &Deployment) -> Option<String> {
    let value = serde_json::to_value(deployment).ok()?;
    value
        .pointer("/spec/template/spec/containers/0/image")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pushed_tag_is_committed_to_git_and_rolled_out_by_the_kustomization() {
    let cluster = testkit::cluster().await.expect("cluster");
    let client = cluster.client.clone();
    kc::install_crds(&client).await.expect("crds");
    irc::install_crds(&client).await.expect("image crds");
    let automation_crd = driftless_api::crds()
        .into_iter()
        .find(|c| {
            c.metadata.name.as_deref() == Some("imageupdateautomations.image.toolkit.fluxcd.io")
        })
        .expect("automation crd");
    testkit::install_crd(&client, &automation_crd, "driftless-cli-tests")
        .await
        .expect("install automation crd");
    let ns = testkit::TestNamespace::create(&cluster, "e2e-image")
        .await
        .expect("ns");
    let shard = ns.name().to_owned();
    let labels = json!({kc::SHARD_LABEL: shard});

    let registry = OciRegistry::start(RegistryAuth::None)
        .await
        .expect("registry");
    registry.push_image("podinfo", "1.2.3");
    let image = format!("{}/podinfo", registry.host());
    let git = GitServer::start(GitAuth::None).await.expect("git server");
    let repo = git.create_repo("fleet").expect("repo");
    git.allow_push("fleet").expect("push allowed");
    let manifest = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: podinfo # the app\n  namespace: {shard}\n\
         spec:\n  selector:\n    matchLabels:\n      app: podinfo\n  template:\n    metadata:\n      labels:\n        \
         app: podinfo\n    spec:\n      containers:\n        - name: podinfo\n          \
         image: {image}:1.2.3 # {{\"$imagepolicy\": \"{shard}:podinfo\"}}\n"
    );
    repo.commit_files("main", &[("deploy/podinfo.yaml", &manifest)], "podinfo")
        .expect("commit");

    let sources = sc::RunningController::start(&cluster, &shard)
        .await
        .expect("source-controller");
    let appliers = kc::RunningController::start(&cluster, &shard, &[])
        .await
        .expect("kustomize-controller");
    let reflector = irc::RunningController::start(&cluster, &shard, &[])
        .await
        .expect("image-reflector");
    let args = AutomationCli::try_parse_from([
        "image-automation-controller".to_owned(),
        "--metrics-addr=0".into(),
        "--health-addr=0".into(),
        format!("--watch-label-selector={}={shard}", kc::SHARD_LABEL),
        "--min-retry-delay=100ms".into(),
        "--max-retry-delay=2s".into(),
    ])
    .expect("flags")
    .args;
    let (stop_automation, stopped) = tokio::sync::oneshot::channel::<()>();
    let automation = tokio::spawn(driftless_image_automation_controller::run(
        args,
        cluster.plane.config().await.expect("config"),
        async move {
            let _ = stopped.await;
        },
    ));

    let source = "source.toolkit.fluxcd.io";
    let images = "image.toolkit.fluxcd.io";
    // A short interval stands in for a push webhook: the source notices the automation's commit.
    create(
        &flux_api(&client, &shard, source, "v1", "GitRepository"),
        json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "fleet", "labels": labels},
        "spec": {"url": git.url("fleet"), "interval": "2s", "ref": {"branch": "main"}}}),
    )
    .await;
    create(
        &flux_api(
            &client,
            &shard,
            "kustomize.toolkit.fluxcd.io",
            "v1",
            "Kustomization",
        ),
        json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "apps", "labels": labels},
        "spec": {"interval": "10m", "path": "./deploy", "prune": true,
                 "sourceRef": {"kind": "GitRepository", "name": "fleet"}}}),
    )
    .await;
    let repositories = flux_api(&client, &shard, images, "v1", "ImageRepository");
    create(
        &repositories,
        json!({
        "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository",
        "metadata": {"name": "podinfo", "labels": labels},
        "spec": {"image": image, "interval": "10m", "insecure": true}}),
    )
    .await;
    create(
        &flux_api(&client, &shard, images, "v1", "ImagePolicy"),
        json!({
        "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
        "metadata": {"name": "podinfo", "labels": labels},
        "spec": {"imageRepositoryRef": {"name": "podinfo"},
                 "policy": {"semver": {"range": ">=1.0.0"}}}}),
    )
    .await;
    create(&flux_api(&client, &shard, images, "v1", "ImageUpdateAutomation"), json!({
        "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageUpdateAutomation",
        "metadata": {"name": "fleet", "labels": labels},
        "spec": {"interval": "10m",
                 "sourceRef": {"kind": "GitRepository", "name": "fleet"},
                 "git": {"checkout": {"ref": {"branch": "main"}},
                         "commit": {"author": {"name": "fluxbot", "email": "fluxbot@example.com"},
                                    "messageTemplate": "Update {{ range .Changed.Changes }}{{ .NewValue }}{{ end }}"},
                         "push": {"branch": "main"}},
                 "update": {"path": "./deploy", "strategy": "Setters"}}})).await;

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &shard);
    let rolled_to = |tag: String| {
        let deployments = deployments.clone();
        async move {
            testkit::wait::until(WAIT, &format!("the Deployment at {tag}"), || {
                let deployments = deployments.clone();
                let tag = tag.clone();
                async move {
                    let current = deployments
                        .get_opt("podinfo")
                        .await
                        .map_err(|e| e.to_string())?;
                    Ok(current
                        .filter(|d| image_of(d).as_deref() == Some(tag.as_str()))
                        .map(|_| ()))
                }
            })
            .await
        }
    };
    rolled_to(format!("{image}:1.2.3"))
        .await
        .expect("first rollout");

    // A new tag: scanned at once (as a registry webhook Receiver would ask), then everything
    // else follows without help.
    registry.push_image("podinfo", "1.2.4");
    let stamp = json!({"metadata": {"annotations": {
        "reconcile.fluxcd.io/requestedAt": jiff::Timestamp::now().to_string()}}});
    repositories
        .patch("podinfo", &PatchParams::default(), &Patch::Merge(&stamp))
        .await
        .expect("scan requested");
    rolled_to(format!("{image}:1.2.4"))
        .await
        .expect("the new tag reached the cluster");

    let log = git
        .git_in_repo("fleet", &["log", "--format=%an %s", "main"])
        .expect("git log");
    assert!(
        log.starts_with(&format!("fluxbot Update {image}:1.2.4\n")),
        "{log}"
    );
    let file = git
        .git_in_repo("fleet", &["show", "main:deploy/podinfo.yaml"])
        .expect("file");
    assert_eq!(
        file,
        manifest.replace(":1.2.3 #", ":1.2.4 #"),
        "only the tag changed"
    );

    let _ = stop_automation.send(());
    let _ = tokio::time::timeout(WAIT, automation).await;
    reflector.stop().await.expect("image-reflector stops");
    appliers.stop().await.expect("kustomize-controller stops");
    sources.stop().await.expect("source-controller stops");
}
