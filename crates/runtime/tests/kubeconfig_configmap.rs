//! `spec.kubeConfig.configMapRef` with the `generic` provider, against the local control
//! plane, which plays both clusters: the controller's (it issues ServiceAccount tokens) and the
//! remote one (it accepts them for its issuer's audience). Who the resulting client is, is
//! asked of the API server itself (SelfSubjectReview), not inferred.

use std::collections::BTreeMap;

use driftless_api::meta::{KubeConfigReference, LocalObjectReference};
use driftless_runtime::ratelimit::Limits;
use driftless_runtime::sa_token::{Account, TokenSource};
use driftless_runtime::target_client::{Target, TargetClients, TargetError, WorkloadIdentity};
use k8s_openapi::api::authentication::v1::{SelfSubjectReview, TokenRequest};
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use kube::api::{Api, PostParams};
use serde_json::json;
use testkit::identity::{ISSUER_AUDIENCE, generic_access, service_account};
use testkit::{TestCluster, TestNamespace};

const LIMITS: Limits = Limits {
    qps: 50.0,
    burst: 100,
};

struct World {
    cluster: TestCluster,
    ns: TestNamespace,
}

async fn world(prefix: &str) -> anyhow::Result<World> {
    let cluster = testkit::cluster().await?;
    let ns = TestNamespace::create(&cluster, prefix).await?;
    Ok(World { cluster, ns })
}

/// Flux's `ObjectLevelWorkloadIdentity` on or off, the pod token where Kubernetes mounts it.
fn object_level(on: bool) -> WorkloadIdentity {
    WorkloadIdentity {
        object_level: on,
        ..WorkloadIdentity::default()
    }
}

impl World {
    fn clients(&self, identity: WorkloadIdentity) -> TargetClients {
        let client = self.cluster.client.clone();
        let unused = kube::Config::new(http::Uri::from_static("https://127.0.0.1:1"));
        TargetClients::new(unused, client, LIMITS, None).with_workload_identity(identity)
    }

    async fn config_map(&self, name: &str, data: BTreeMap<String, String>) -> anyhow::Result<()> {
        let api: Api<ConfigMap> = Api::namespaced(self.cluster.client.clone(), self.ns.name());
        let cm: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": name}, "data": data}))?;
        api.create(&PostParams::default(), &cm).await?;
        Ok(())
    }

    /// ConfigMap `name` with the generic provider reaching the plane (see
    /// [`generic_access`]).
    async fn generic(
        &self,
        name: &str,
        audience: bool,
        account: Option<&str>,
    ) -> anyhow::Result<()> {
        let data = generic_access(&self.cluster, audience, account).await?;
        self.config_map(name, data).await
    }

    /// ServiceAccount `name`, allowed `rules` in the namespace.
    async fn account(&self, name: &str, rules: serde_json::Value) -> anyhow::Result<()> {
        service_account(&self.cluster.client, self.ns.name(), name, rules).await
    }

    fn user(&self, account: &str) -> String {
        format!("system:serviceaccount:{}:{account}", self.ns.name())
    }
}

fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn by_config_map(name: &str) -> KubeConfigReference {
    KubeConfigReference {
        config_map_ref: Some(LocalObjectReference { name: name.into() }),
        secret_ref: None,
    }
}

/// Who the API server says `client` is.
async fn whoami(client: &kube::Client) -> anyhow::Result<String> {
    let api: Api<SelfSubjectReview> = Api::all(client.clone());
    let review = api
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await?;
    Ok(review
        .status
        .and_then(|s| s.user_info)
        .and_then(|u| u.username)
        .unwrap_or_default())
}

async fn client_for(
    clients: &TargetClients,
    ns: &str,
    kube_config: &KubeConfigReference,
    service_account_name: Option<&str>,
) -> Result<kube::Client, TargetError> {
    clients
        .client(&Target {
            namespace: ns,
            service_account_name,
            kube_config: Some(kube_config),
        })
        .await
}

#[tokio::test]
async fn a_generic_config_map_reaches_the_cluster_as_its_account_and_impersonates_the_objects()
-> anyhow::Result<()> {
    let w = world("cm-generic").await?;
    let rules = json!([{"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]},
                       {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}]);
    w.account("deployer", rules).await?;
    w.generic("remote", true, Some("deployer")).await?;
    let clients = w.clients(object_level(true));
    let kube_config = by_config_map("remote");

    let deployer = client_for(&clients, w.ns.name(), &kube_config, None).await?;
    assert_eq!(whoami(&deployer).await?, w.user("deployer"));
    let listed = Api::<ConfigMap>::namespaced(deployer, w.ns.name())
        .list(&Default::default())
        .await?;
    assert!(
        listed
            .items
            .iter()
            .any(|cm| cm.metadata.name.as_deref() == Some("remote"))
    );

    // spec.serviceAccountName is impersonated on the remote side, by the token's account.
    let tenant = client_for(&clients, w.ns.name(), &kube_config, Some("tenant")).await?;
    assert_eq!(whoami(&tenant).await?, w.user("tenant"));
    let denied = Api::<ConfigMap>::namespaced(tenant, w.ns.name())
        .list(&Default::default())
        .await
        .expect_err("the tenant has no RBAC");
    assert!(denied.to_string().contains(&w.user("tenant")), "{denied}");
    Ok(())
}

#[tokio::test]
async fn without_a_service_account_name_the_token_is_the_controllers_own_from_its_pod_token()
-> anyhow::Result<()> {
    let w = world("cm-controller").await?;
    w.account("controller", json!([])).await?;
    w.generic("remote", true, None).await?;
    // The pod's mounted token, as the kubelet would project it.
    let accounts: Api<ServiceAccount> = Api::namespaced(w.cluster.client.clone(), w.ns.name());
    let issued = accounts
        .create_token_request(
            "controller",
            &PostParams::default(),
            &TokenRequest::default(),
        )
        .await?;
    let pod_token = issued.status.and_then(|s| s.token).unwrap_or_default();
    let dir = tempfile::tempdir()?;
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, pod_token)?;

    let clients = w.clients(WorkloadIdentity {
        object_level: false,
        pod_token_file: token_file,
    });
    let client = client_for(&clients, w.ns.name(), &by_config_map("remote"), None).await?;
    assert_eq!(whoami(&client).await?, w.user("controller"));

    // A process outside a pod has no mounted token: said so, as Flux says it.
    let outside = w.clients(WorkloadIdentity {
        object_level: false,
        pod_token_file: dir.path().join("absent"),
    });
    let err = client_for(&outside, w.ns.name(), &by_config_map("remote"), None)
        .await
        .err()
        .expect("no pod token");
    let message = err.to_string();
    assert!(
        message.starts_with("failed to get access token for cluster: failed to create provider access token for the controller: failed to read service account token file"),
        "{message}"
    );
    Ok(())
}

#[tokio::test]
async fn an_objects_own_account_needs_the_object_level_workload_identity_gate() -> anyhow::Result<()>
{
    let w = world("cm-gate").await?;
    w.account("deployer", json!([])).await?;
    w.generic("remote", true, Some("deployer")).await?;
    let clients = w.clients(object_level(false));
    let err = client_for(&clients, w.ns.name(), &by_config_map("remote"), None)
        .await
        .err()
        .expect("gate off");
    assert_eq!(
        err.to_string(),
        "failed to get access token for cluster: ObjectLevelWorkloadIdentity feature gate is not enabled"
    );
    Ok(())
}

#[tokio::test]
async fn the_default_audience_is_the_address_and_a_cluster_that_does_not_accept_it_says_unauthorized()
-> anyhow::Result<()> {
    let w = world("cm-audience").await?;
    w.account("deployer", json!([])).await?;
    w.generic("remote", false, Some("deployer")).await?;
    let clients = w.clients(object_level(true));
    let client = client_for(&clients, w.ns.name(), &by_config_map("remote"), None).await?;
    let err = whoami(&client).await.expect_err("audience not accepted");
    let message = format!("{err:#}");
    assert!(message.contains("Unauthorized"), "{message}");
    assert!(!message.contains("eyJ"), "no token in errors: {message}");
    Ok(())
}

#[tokio::test]
async fn bad_config_maps_are_clear_errors_that_never_quote_the_ca() -> anyhow::Result<()> {
    let w = world("cm-bad").await?;
    let mut bad_ca = generic_access(&w.cluster, true, None).await?;
    bad_ca.insert("ca.crt".into(), "private-looking-xyz".into());
    let mut no_provider = bad_ca.clone();
    no_provider.remove("provider");
    w.config_map("bad-ca", bad_ca).await?;
    w.config_map("no-provider", no_provider).await?;
    w.config_map("unknown", data(&[("provider", "vault")]))
        .await?;
    let eks = [
        ("provider", "aws"),
        ("cluster", "arn:aws:eks:eu-west-1:1:cluster/c"),
    ];
    w.config_map("aws", data(&eks)).await?;
    w.config_map("no-address", data(&[("provider", "generic")]))
        .await?;
    let clients = w.clients(WorkloadIdentity::default());
    let ns = w.ns.name();
    let subject = |name: &str| format!("invalid kubeconfig ConfigMap '{ns}/{name}': ");
    for (name, expected) in [
        ("no-provider", "provider '' not implemented"),
        ("unknown", "provider 'vault' not implemented"),
        ("aws", "provider 'aws' is not supported by this controller"),
        (
            "no-address",
            "cluster address is required to create a REST config",
        ),
        ("bad-ca", "invalid ca.crt: no PEM-encoded certificate found"),
    ] {
        let err = client_for(&clients, ns, &by_config_map(name), None)
            .await
            .err()
            .expect(name);
        let message = err.to_string();
        assert!(message.starts_with(&subject(name)), "{name}: {message}");
        assert!(message.contains(expected), "{name}: {message}");
        assert!(!message.contains("xyz"), "{name}: {message}");
        assert_eq!(
            matches!(
                err,
                TargetError::Unsupported {
                    provider: "aws",
                    ..
                }
            ),
            name == "aws",
            "{name}: only a cloud provider is unsupported"
        );
    }
    let err = client_for(&clients, ns, &by_config_map("absent"), None)
        .await
        .err()
        .expect("absent");
    assert!(
        err.to_string()
            .contains(&format!("failed to get kubeconfig ConfigMap '{ns}/absent'")),
        "{err}"
    );
    Ok(())
}

#[tokio::test]
async fn tokens_are_reused_while_fresh_and_issued_per_audience() -> anyhow::Result<()> {
    let w = world("cm-cache").await?;
    w.account("deployer", json!([])).await?;
    let source = TokenSource::new(w.cluster.client.clone(), "/nonexistent".into(), true);
    let account = Account::Named {
        namespace: w.ns.name().to_owned(),
        name: "deployer".to_owned(),
    };
    let issuer = vec![ISSUER_AUDIENCE.to_owned()];
    let first = source.token(&account, &issuer).await?;
    let again = source.token(&account, &issuer).await?;
    assert_eq!(first, again, "a fresh token is served from the cache");
    let other = source.token(&account, &["other".to_owned()]).await?;
    assert_ne!(first, other, "another audience is another token");
    Ok(())
}
