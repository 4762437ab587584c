//! The SSH side of `bootstrap git --url=ssh://…`: the credentials the CLI clones and pushes
//! with, and the ones the cluster gets in the source Secret.
//!
//! With `--private-key-file` both are that key. Without it, flux generates a deploy key for
//! the cluster, prints its public half and asks the user to give it access (unless
//! `--silent`); its own push goes through the user's SSH agent. driftless has no agent
//! client, so the CLI pushes with the deploy key itself, which is why the key is stored in the
//! Secret as soon as the user confirmed: when the push is refused (the key not added yet,
//! or `--silent` with a fresh key) a re-run finds the same key, as flux's re-runs do, instead
//! of asking for a new one.

use driftless_git::Auth;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::keys::KeySpec;
use super::secret::apply_secret_data;
use super::{FIELD_MANAGER, GitBootstrap};
use crate::commands::CommandError;
use crate::commands::cluster::ClusterError;
use crate::commands::output::Printer;

/// The question flux asks after printing a generated public key.
pub const PROMPT: &str = "Please give the key access to your repository";

/// Where the answer to [`PROMPT`] comes from: given the public key line, returns the line the
/// user typed (stdin in the binary; tests authorize the key on their server and answer).
pub type Answer<'a> = dyn FnMut(&str) -> std::io::Result<String> + 'a;

/// What the SSH step settled on.
pub(super) struct SshSetup {
    /// The credentials of the CLI's own clone and push.
    pub auth: Auth,
    /// The source Secret is already in place (generated now, or found from an earlier run).
    pub stored: bool,
    /// The Secret holds a key bootstrap generated: a refused push means the key lacks access.
    pub deploy_key: bool,
    /// The `known_hosts` the Secret gets: the host of `--ssh-hostname` when given.
    pub known_hosts: String,
}

/// `user@host[:port]` and the path of an `ssh://` URL.
fn split_ssh_url(url: &str) -> Option<(Option<&str>, &str, &str)> {
    let rest = url.strip_prefix("ssh://")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    Some(match authority.rsplit_once('@') {
        Some((user, host)) => (Some(user), host, path),
        None => (None, authority, path),
    })
}

impl GitBootstrap {
    /// The URL the cluster's GitRepository follows. Over SSH, as flux builds it: the
    /// `--username` replaces a missing user (or any user when it is not the default `git`),
    /// and `--ssh-hostname` replaces the host.
    pub fn sync_url(&self) -> String {
        let Some((user, host, path)) = split_ssh_url(&self.url) else {
            return self.url.clone();
        };
        let user = match user {
            Some(user) if self.username == "git" => user,
            _ => self.username.as_str(),
        };
        let host = self.ssh_hostname.as_deref().unwrap_or(host);
        format!("ssh://{user}@{host}{path}")
    }

    /// The credentials of the clone and of the Secret over SSH.
    pub(super) async fn ssh_setup(
        &self,
        client: &kube::Client,
        namespace: &str,
        answer: &mut Answer<'_>,
        printer: &mut Printer<'_>,
    ) -> Result<SshSetup, CommandError> {
        let cli_known_hosts = scan(&self.url).await?;
        if let Some(path) = &self.private_key_file {
            let identity = std::fs::read(path).map_err(|e| {
                ClusterError::Invalid(format!(
                    "reading --private-key-file '{}': {e}",
                    path.display()
                ))
            })?;
            let known_hosts = self.cluster_known_hosts(&cli_known_hosts).await?;
            let auth = self.ssh_auth(identity, self.password.clone(), cli_known_hosts);
            return Ok(SshSetup {
                auth,
                stored: false,
                deploy_key: false,
                known_hosts,
            });
        }

        let name = &self.secret_name;
        printer.action(&format!(
            "determining if source secret \"{namespace}/{name}\" exists"
        ))?;
        let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
        let existing = secrets
            .get_opt(name)
            .await
            .map_err(|e| ClusterError::api(format!("reading Secret {namespace}/{name}"), e))?;
        let data = existing.and_then(|s| s.data).unwrap_or_default();
        if let Some(identity) = data.get("identity") {
            // An earlier run's key: the user already gave it access, keep it.
            printer.success("source secret up to date")?;
            let password = data
                .get("password")
                .map(|p| String::from_utf8_lossy(&p.0).into_owned());
            let known_hosts = data
                .get("known_hosts")
                .map(|k| String::from_utf8_lossy(&k.0).into_owned())
                .unwrap_or_default();
            let auth = self.ssh_auth(identity.0.clone(), password, cli_known_hosts);
            return Ok(SshSetup {
                auth,
                stored: true,
                deploy_key: true,
                known_hosts,
            });
        }

        printer.action("generating source secret")?;
        let spec = self.key_spec();
        let passphrase = self.password.clone();
        let key = tokio::task::spawn_blocking(move || spec.generate(passphrase.as_deref()))
            .await
            .map_err(|e| ClusterError::Failed(format!("the key generation stopped: {e}")))?
            .map_err(|e| ClusterError::Failed(e.to_string()))?;
        let known_hosts = self.cluster_known_hosts(&cli_known_hosts).await?;
        printer.success(&format!("public key: {}", key.public.trim()))?;
        if !self.silent {
            printer.print_err(&format!("? {PROMPT} [y/N] "))?;
            let line = answer(&key.public).map_err(CommandError::Output)?;
            if !matches!(line.trim(), "y" | "Y" | "yes") {
                return Err(ClusterError::Failed("aborting".into()).into());
            }
        }
        printer.action(&format!("applying source secret \"{namespace}/{name}\""))?;
        ensure_namespace(client, namespace).await?;
        let mut data = json!({
            "identity": key.private,
            "identity.pub": key.public,
            "known_hosts": &known_hosts,
        });
        if let Some(password) = &self.password {
            data["password"] = json!(password);
        }
        apply_secret_data(client, self, namespace, data).await?;
        printer.success("reconciled source secret")?;
        let auth = self.ssh_auth(
            key.private.into_bytes(),
            self.password.clone(),
            cli_known_hosts,
        );
        Ok(SshSetup {
            auth,
            stored: true,
            deploy_key: true,
            known_hosts,
        })
    }

    /// The cluster reaches the host of the sync URL: scanned again only when
    /// `--ssh-hostname` names another host than the one the CLI reached.
    async fn cluster_known_hosts(&self, cli_known_hosts: &str) -> Result<String, ClusterError> {
        let host = |url: &str| split_ssh_url(url).map(|(_, host, _)| host.to_owned());
        let sync_url = self.sync_url();
        if host(&sync_url) == host(&self.url) {
            return Ok(cli_known_hosts.to_owned());
        }
        scan(&sync_url).await
    }

    fn key_spec(&self) -> KeySpec {
        KeySpec {
            algorithm: self.ssh_key_algorithm,
            curve: self.ssh_ecdsa_curve,
            rsa_bits: self.ssh_rsa_bits,
        }
    }

    fn ssh_auth(&self, identity: Vec<u8>, password: Option<String>, known_hosts: String) -> Auth {
        Auth {
            ssh_identity: Some(identity),
            ssh_password: password,
            ssh_known_hosts: Some(known_hosts.into_bytes()),
            ..Auth::default()
        }
    }

    /// What to do when the clone or push is refused.
    pub(super) fn access_hint(&self, namespace: &str, deploy_key: bool) -> String {
        if deploy_key {
            format!(
                "hint: the deploy key in Secret \"{namespace}/{}\" (its public half is \
                 identity.pub, printed as \"public key:\" when it was generated) must be added \
                 to the repository with write access; add it and run bootstrap again, the \
                 same key is reused",
                self.secret_name
            )
        } else if self.is_ssh() {
            "hint: the key of --private-key-file must be allowed to read and push to the \
             repository (--password is its passphrase)"
                .into()
        } else {
            "hint: the credentials must be allowed to push; pass --username/--password, or \
             --password with --token-auth"
                .into()
        }
    }
}

/// The `known_hosts` line of the server of `url`, read from its handshake now: bootstrap
/// trusts the host it reaches and pins that key from then on, as flux's scan does.
async fn scan(url: &str) -> Result<String, ClusterError> {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        driftless_git::scan_known_hosts(&url, std::time::Duration::from_secs(30))
    })
    .await
    .map_err(|e| ClusterError::Failed(format!("the host key scan stopped: {e}")))?
    .map_err(|e| ClusterError::Failed(e.to_string()))
}

/// The Secret is written before `install` creates the namespace, so bootstrap creates it
/// (install's apply, with the same field manager, then adds its labels).
async fn ensure_namespace(client: &kube::Client, namespace: &str) -> Result<(), ClusterError> {
    let api: Api<Namespace> = Api::all(client.clone());
    let object = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}});
    if api
        .get_opt(namespace)
        .await
        .map_err(|e| ClusterError::api(format!("reading Namespace {namespace}"), e))?
        .is_some()
    {
        return Ok(());
    }
    api.patch(
        namespace,
        &PatchParams::apply(FIELD_MANAGER),
        &Patch::Apply(&object),
    )
    .await
    .map_err(|e| ClusterError::api(format!("creating Namespace {namespace}"), e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::split_ssh_url;

    #[test]
    fn an_ssh_url_splits_into_user_host_and_path() {
        assert_eq!(
            split_ssh_url("ssh://git@host:2222/org/repo.git"),
            Some((Some("git"), "host:2222", "/org/repo.git"))
        );
        assert_eq!(
            split_ssh_url("ssh://host/repo"),
            Some((None, "host", "/repo"))
        );
        assert_eq!(split_ssh_url("https://host/repo"), None);
    }
}
