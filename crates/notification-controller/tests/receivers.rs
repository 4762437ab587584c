//! Receivers against the local control plane: the Receiver publishes its webhook path, a signed
//! GitHub push annotates the GitRepository at once, and every unverified call is refused with
//! nothing annotated and no secret in the logs; gcr and generic-oidc callers prove themselves
//! with ID tokens from a loopback issuer.

mod common;

use common::{
    LogCapture, RunningController, SHARD_LABEL, WAIT, create_secret, delete_receivers, hmac_sha256,
    http, install_crds,
};
use driftless_api::notification::Receiver;
use driftless_notification_controller::receiver::oidc::testsupport::{Issuer, Signer};
use driftless_notification_controller::receiver::webhook_path;
use kube::api::{Api, PostParams};
use serde_json::json;
use testkit::TestNamespace;

const REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";

async fn create_receiver(
    client: &kube::Client,
    ns: &str,
    name: &str,
    shard: &str,
    spec: serde_json::Value,
) -> anyhow::Result<()> {
    let receiver: Receiver = serde_json::from_value(json!({
        "apiVersion": "notification.toolkit.fluxcd.io/v1",
        "kind": "Receiver",
        "metadata": {"name": name, "labels": {SHARD_LABEL: shard}},
        "spec": spec,
    }))?;
    Api::<Receiver>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &receiver)
        .await?;
    Ok(())
}

/// Waits for the Receiver to be Ready with `path` published.
async fn wait_ready(
    client: &kube::Client,
    ns: &str,
    name: &str,
    path: &str,
) -> anyhow::Result<Receiver> {
    let api: Api<Receiver> = Api::namespaced(client.clone(), ns);
    testkit::wait::object(&api, name, WAIT, "receiver Ready with its path", |r| {
        let status = r.status.as_ref();
        status.and_then(|s| s.webhook_path.as_deref()) == Some(path)
            && status
                .and_then(|s| s.conditions.as_ref())
                .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
                .is_some_and(|c| c.status == "True")
    })
    .await
}

async fn requested_at(
    client: &kube::Client,
    ns: &str,
    name: &str,
) -> anyhow::Result<Option<String>> {
    let repo = common::flux_api(client, ns, "GitRepository")
        .get(name)
        .await?;
    Ok(repo
        .metadata
        .annotations
        .and_then(|a| a.get(REQUESTED_AT).cloned()))
}

#[tokio::test]
async fn a_signed_github_push_annotates_the_git_repository_at_once() -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crds(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "nc-github").await?;
    let client = &cluster.client;
    let token = "gh-token-7b1f0c2e9d";
    create_secret(client, ns.name(), "webhook-token", &[("token", token)]).await?;
    common::create_inert_git_repository(client, ns.name(), "webapp").await?;
    let controller = RunningController::start(&cluster, "nc-github", &[]).await?;
    create_receiver(
        client,
        ns.name(),
        "github",
        &controller.shard,
        json!({
            "type": "github",
            "events": ["ping", "push"],
            "secretRef": {"name": "webhook-token"},
            "resources": [{"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository", "name": "webapp"}],
        }),
    )
    .await?;
    let path = webhook_path(token, "github", ns.name());
    let receiver = wait_ready(client, ns.name(), "github", &path).await?;
    let ready = receiver
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .cloned()
        .expect("Ready is set");
    assert_eq!(ready.reason, "Succeeded");
    assert_eq!(
        ready.message,
        format!("Receiver initialised for path: {path}")
    );

    let body = br#"{"ref":"refs/heads/main","after":"0123456789abcdef"}"#;
    let signature = format!("sha256={}", hmac_sha256(token, body));
    let response = http(
        "POST",
        &format!("{}{path}", controller.receiver_url),
        &[
            ("Content-Type", "application/json"),
            ("X-GitHub-Event", "push"),
            ("X-Hub-Signature-256", &signature),
        ],
        body,
    )
    .await?;
    assert_eq!(response.status, 200);
    // Annotated before the response: no waiting needed.
    let stamp = requested_at(client, ns.name(), "webapp")
        .await?
        .expect("requestedAt is set");
    assert!(stamp.ends_with(" +0000 UTC"), "{stamp}");

    delete_receivers(client, ns.name()).await?;
    controller.stop().await
}

#[tokio::test]
async fn unverified_oversized_and_unknown_calls_are_refused_and_change_nothing()
-> anyhow::Result<()> {
    let logs = LogCapture::global();
    let cluster = testkit::cluster().await?;
    install_crds(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "nc-refuse").await?;
    let client = &cluster.client;
    let token = "refuse-token-4c8d2a9e51";
    create_secret(client, ns.name(), "webhook-token", &[("token", token)]).await?;
    common::create_inert_git_repository(client, ns.name(), "webapp").await?;
    let controller = RunningController::start(&cluster, "nc-refuse", &[]).await?;
    let resources = json!([{"kind": "GitRepository", "name": "webapp"}]);
    for (name, kind) in [("github", "github"), ("gitlab", "gitlab")] {
        create_receiver(
            client,
            ns.name(),
            name,
            &controller.shard,
            json!({"type": kind, "secretRef": {"name": "webhook-token"}, "resources": resources}),
        )
        .await?;
    }
    let github = webhook_path(token, "github", ns.name());
    let gitlab = webhook_path(token, "gitlab", ns.name());
    wait_ready(client, ns.name(), "github", &github).await?;
    wait_ready(client, ns.name(), "gitlab", &gitlab).await?;
    let url = |path: &str| format!("{}{path}", controller.receiver_url);
    let body = br#"{"ref":"refs/heads/main"}"#;

    let forged = format!("sha256={}", hmac_sha256("not-the-token", body));
    let response = http(
        "POST",
        &url(&github),
        &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &forged)],
        body,
    )
    .await?;
    assert_eq!(response.status, 401, "forged signature");

    let response = http(
        "POST",
        &url(&gitlab),
        &[
            ("X-Gitlab-Event", "Push Hook"),
            ("X-Gitlab-Token", "wrong-token-value"),
        ],
        body,
    )
    .await?;
    assert_eq!(response.status, 401, "wrong token");

    let oversized = vec![b'x'; 3 * 1024 * 1024 + 1];
    let signature = format!("sha256={}", hmac_sha256(token, &oversized));
    let response = http(
        "POST",
        &url(&github),
        &[
            ("X-GitHub-Event", "push"),
            ("X-Hub-Signature-256", &signature),
        ],
        &oversized,
    )
    .await?;
    assert_eq!(response.status, 413, "oversized body");

    let unknown = webhook_path("guessed", "github", ns.name());
    let response = http("POST", &url(&unknown), &[], body).await?;
    assert_eq!(response.status, 404, "unknown path");
    let response = http("POST", &url("/other"), &[], body).await?;
    assert_eq!(response.status, 404, "outside /hook/");

    assert_eq!(requested_at(client, ns.name(), "webapp").await?, None);
    let text = logs.text();
    for secret in [
        token,
        "wrong-token-value",
        &forged[7..],
        &github[6..],
        &gitlab[6..],
    ] {
        assert!(!text.contains(secret), "a secret reached the logs");
    }
    assert!(
        text.contains("unable to validate payload"),
        "refusals are logged"
    );

    delete_receivers(client, ns.name()).await?;
    controller.stop().await
}

#[tokio::test]
async fn a_receiver_without_its_secret_is_not_ready_until_the_secret_appears() -> anyhow::Result<()>
{
    let cluster = testkit::cluster().await?;
    install_crds(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "nc-notoken").await?;
    let client = &cluster.client;
    let controller = RunningController::start(&cluster, "nc-notoken", &[]).await?;
    create_receiver(
        client,
        ns.name(),
        "late",
        &controller.shard,
        json!({"type": "generic", "secretRef": {"name": "late-token"},
               "resources": [{"kind": "GitRepository", "name": "webapp"}]}),
    )
    .await?;
    let api: Api<Receiver> = Api::namespaced(client.clone(), ns.name());
    testkit::wait::object(&api, "late", WAIT, "Ready=False TokenNotFound", |r| {
        r.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
            .is_some_and(|c| c.status == "False" && c.reason == "TokenNotFound")
    })
    .await?;
    create_secret(client, ns.name(), "late-token", &[("token", "t")]).await?;
    wait_ready(
        client,
        ns.name(),
        "late",
        &webhook_path("t", "late", ns.name()),
    )
    .await?;
    delete_receivers(client, ns.name()).await?;
    controller.stop().await
}

#[tokio::test]
async fn a_rotated_watched_token_moves_the_webhook_path() -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crds(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "nc-rotate").await?;
    let client = &cluster.client;
    let secret: k8s_openapi::api::core::v1::Secret = serde_json::from_value(json!({
        "metadata": {"name": "rotating", "labels": {"reconcile.fluxcd.io/watch": "Enabled"}},
        "stringData": {"token": "first"},
    }))?;
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client.clone(), ns.name());
    secrets.create(&PostParams::default(), &secret).await?;
    let controller = RunningController::start(&cluster, "nc-rotate", &[]).await?;
    create_receiver(
        client,
        ns.name(),
        "rotated",
        &controller.shard,
        json!({"type": "generic", "secretRef": {"name": "rotating"},
               "resources": [{"kind": "GitRepository", "name": "webapp"}]}),
    )
    .await?;
    wait_ready(
        client,
        ns.name(),
        "rotated",
        &webhook_path("first", "rotated", ns.name()),
    )
    .await?;
    secrets
        .patch(
            "rotating",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"stringData": {"token": "second"}})),
        )
        .await?;
    // Well before the 10m interval: the Secret watch triggers the Receiver.
    wait_ready(
        client,
        ns.name(),
        "rotated",
        &webhook_path("second", "rotated", ns.name()),
    )
    .await?;
    delete_receivers(client, ns.name()).await?;
    controller.stop().await
}

#[tokio::test]
async fn a_generic_oidc_caller_is_checked_by_its_token_and_its_claims_pick_the_resources()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crds(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "nc-oidc").await?;
    let client = &cluster.client;
    let ci = Issuer::start(Signer::rsa("ci-key")).await;
    for repo in ["webapp", "other"] {
        common::create_inert_git_repository(client, ns.name(), repo).await?;
    }
    let controller = RunningController::start(&cluster, "nc-oidc", &[]).await?;
    create_receiver(
        client,
        ns.name(),
        "ci",
        &controller.shard,
        json!({
            "type": "generic-oidc",
            "oidcProviders": [{
                "issuerURL": ci.url,
                "variables": [{"name": "owner", "expression": "claims.repository_owner"}],
                "validations": [{"expression": "vars.owner == 'org'", "message": "wrong org"}],
            }],
            "resourceFilter": "claims.repository == 'org/' + res.metadata.name",
            "resources": [{"kind": "GitRepository", "name": "*", "matchLabels": {"app": "yes"}}],
        }),
    )
    .await?;
    for repo in ["webapp", "other"] {
        let patch = json!({"metadata": {"labels": {"app": "yes"}}});
        common::flux_api(client, ns.name(), "GitRepository")
            .patch(
                repo,
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&patch),
            )
            .await?;
    }
    // No Secret: the path comes from the name and namespace alone.
    let path = webhook_path("", "ci", ns.name());
    wait_ready(client, ns.name(), "ci", &path).await?;
    let url = format!("{}{path}", controller.receiver_url);

    let outsider = ci.token(
        "notification-controller",
        json!({"repository_owner": "evil", "repository": "evil/webapp"}),
    );
    let bearer = format!("Bearer {outsider}");
    let response = http("POST", &url, &[("Authorization", &bearer)], b"{}").await?;
    assert_eq!(response.status, 403, "validation fails");
    let response = http("POST", &url, &[], b"{}").await?;
    assert_eq!(response.status, 401, "no token");
    assert_eq!(requested_at(client, ns.name(), "webapp").await?, None);

    let member = ci.token(
        "notification-controller",
        json!({"repository_owner": "org", "repository": "org/webapp"}),
    );
    let bearer = format!("Bearer {member}");
    let response = http("POST", &url, &[("Authorization", &bearer)], b"{}").await?;
    assert_eq!(response.status, 200);
    assert!(requested_at(client, ns.name(), "webapp").await?.is_some());
    assert_eq!(
        requested_at(client, ns.name(), "other").await?,
        None,
        "the claims filter leaves other repositories alone"
    );

    delete_receivers(client, ns.name()).await?;
    controller.stop().await
}

#[tokio::test]
async fn a_gcr_pubsub_push_signed_for_our_account_triggers_on_its_tag() -> anyhow::Result<()> {
    use base64::Engine as _;
    let cluster = testkit::cluster().await?;
    install_crds(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "nc-gcr").await?;
    let client = &cluster.client;
    let google = Issuer::start(Signer::ecdsa("google-key")).await;
    let (email, audience) = (
        "flux@project.iam.gserviceaccount.com",
        "https://flux.example/hook",
    );
    create_secret(client, ns.name(), "incomplete", &[("token", "gcr-token-1")]).await?;
    let token = "gcr-token-8e21c4";
    create_secret(
        client,
        ns.name(),
        "gcr-token",
        &[("token", token), ("email", email), ("audience", audience)],
    )
    .await?;
    common::create_inert_git_repository(client, ns.name(), "webapp").await?;
    let issuer_flag = format!("--gcr-issuer-url={}", google.url);
    let controller = RunningController::start(&cluster, "nc-gcr", &[&issuer_flag]).await?;
    let resources = json!([{"kind": "GitRepository", "name": "webapp"}]);
    for (name, secret) in [("gcr", "gcr-token"), ("half", "incomplete")] {
        create_receiver(
            client,
            ns.name(),
            name,
            &controller.shard,
            json!({"type": "gcr", "secretRef": {"name": secret}, "resources": resources,
                   "resourceFilter": "req.tag.contains(res.metadata.name)"}),
        )
        .await?;
    }
    let path = webhook_path(token, "gcr", ns.name());
    wait_ready(client, ns.name(), "gcr", &path).await?;
    let api: Api<Receiver> = Api::namespaced(client.clone(), ns.name());
    let half = testkit::wait::object(&api, "half", WAIT, "half not ready", |r| {
        r.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
            .is_some_and(|c| c.status == "False")
    })
    .await?;
    let conditions = half.status.and_then(|s| s.conditions).unwrap_or_default();
    let message = &conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .expect("Ready")
        .message;
    assert!(
        message.contains("required field 'email' for GCR receiver"),
        "{message}"
    );

    let event = json!({"action": "INSERT", "tag": "europe-docker.pkg.dev/p/r/webapp:1.2.4"});
    let data = base64::engine::general_purpose::STANDARD.encode(event.to_string());
    let body = json!({"message": {"data": data, "messageId": "1"}}).to_string();
    let url = format!("{}{path}", controller.receiver_url);
    let stranger = google.token(
        audience,
        json!({"email": "x@y.iam.gserviceaccount.com",
        "email_verified": true}),
    );
    let bearer = format!("Bearer {stranger}");
    let response = http("POST", &url, &[("Authorization", &bearer)], body.as_bytes()).await?;
    assert_eq!(response.status, 401, "another service account");
    assert_eq!(requested_at(client, ns.name(), "webapp").await?, None);

    let pusher = google.token(audience, json!({"email": email, "email_verified": true}));
    let bearer = format!("Bearer {pusher}");
    let response = http("POST", &url, &[("Authorization", &bearer)], body.as_bytes()).await?;
    assert_eq!(response.status, 200);
    assert!(requested_at(client, ns.name(), "webapp").await?.is_some());

    delete_receivers(client, ns.name()).await?;
    controller.stop().await
}
