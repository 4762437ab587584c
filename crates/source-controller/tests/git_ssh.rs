//! GitRepository over SSH: the controller in-process against the local control plane and a
//! private sshd on loopback serving a test git server's bare repositories. The Secret holds
//! Flux's SSH keys: `identity`, `identity.pub`, `known_hosts` (and `password` for an
//! encrypted identity).

// The shared helpers re-export more than this file uses.
#[allow(unused_imports)]
mod common;

use std::collections::BTreeMap;

use common::*;
use driftless_api::source::GitRepository;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::json;
use testkit::TestNamespace;
use testkit::git_server::{GitAuth, GitServer};
use testkit::ssh_server::{SshServer, generate_key};

fn secret(name: &str, data: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec())))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..Default::default()
    }
}

async fn delete_all(api: &Api<GitRepository>) -> anyhow::Result<()> {
    for repo in api.list(&ListParams::default()).await?.items {
        if let Some(name) = repo.metadata.name {
            api.delete(&name, &DeleteParams::default()).await?;
        }
    }
    wait_all_gone(api).await
}

#[tokio::test]
async fn a_repository_is_cloned_over_ssh_and_a_wrong_host_key_fails_without_an_artifact()
-> anyhow::Result<()> {
    let Some(ssh) = SshServer::start_or_skip()? else {
        return Ok(());
    };
    let cluster = testkit::cluster().await?;
    install_crd(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-ssh").await?;
    let git = GitServer::start(GitAuth::None).await?;
    let commit =
        git.create_repo("fleet")?
            .commit_files("master", &[("app.yaml", "app: 1\n")], "initial")?;
    let url = ssh.url(&git.repo_path("fleet"));

    let client_key = ssh.client_key().clone();
    let encrypted = generate_key("ecdsa", Some("s3cret-passphrase"))?;
    ssh.authorize(&encrypted.public)?;
    let stranger = generate_key("ed25519", None)?;
    let stranger_host: Vec<&str> = stranger.public.split_whitespace().take(2).collect();
    let wrong_hosts = format!("[127.0.0.1]:{} {}\n", ssh.port(), stranger_host.join(" "));
    let known_hosts = ssh.known_hosts();
    let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), ns.name());
    for s in [
        secret(
            "ssh",
            &[
                ("identity", &client_key.private),
                ("identity.pub", &client_key.public),
                ("known_hosts", &known_hosts),
            ],
        ),
        secret(
            "ssh-encrypted",
            &[
                ("identity", &encrypted.private),
                ("identity.pub", &encrypted.public),
                ("known_hosts", &known_hosts),
                ("password", "s3cret-passphrase"),
            ],
        ),
        secret(
            "ssh-wrong-host",
            &[
                ("identity", &client_key.private),
                ("identity.pub", &client_key.public),
                ("known_hosts", &wrong_hosts),
            ],
        ),
    ] {
        secrets.create(&PostParams::default(), &s).await?;
    }

    let controller = RunningController::start(&cluster, ns.name()).await?;
    let api: Api<GitRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    for name in ["ssh", "ssh-encrypted", "ssh-wrong-host"] {
        create(
            &api,
            &git_repository(
                name,
                &controller.shard,
                &url,
                json!({"secretRef": {"name": name}}),
            )?,
        )
        .await?;
    }
    let revision = format!("master@sha1:{commit}");
    for name in ["ssh", "ssh-encrypted"] {
        let ready = wait_ready(&api, name, "True", "Succeeded").await?;
        let artifact = ready
            .status
            .as_ref()
            .and_then(|s| s.artifact.as_ref())
            .expect("artifact");
        assert_eq!(artifact.revision, revision, "{name}");
    }

    let failed = wait_failing(&api, "ssh-wrong-host", "GitOperationFailed").await?;
    let message = &condition(&failed, "Ready").expect("Ready").message;
    assert!(message.contains("host key mismatch"), "{message}");
    assert!(
        message.contains(&format!("[127.0.0.1]:{}", ssh.port())),
        "{message}"
    );
    assert!(message.contains("SHA256:"), "{message}");
    assert!(
        failed
            .status
            .as_ref()
            .and_then(|s| s.artifact.as_ref())
            .is_none(),
        "no artifact for an unverified host"
    );
    for leaked in [client_key.private.as_str(), "s3cret-passphrase"] {
        let objects = serde_json::to_string(&api.list(&ListParams::default()).await?.items)?;
        assert!(!objects.contains(leaked), "a secret leaked into status");
    }

    delete_all(&api).await?;
    controller.stop().await
}
