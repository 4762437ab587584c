//! ServiceAccount tokens for secret-less access to remote clusters (the `generic` provider of
//! `spec.kubeConfig.configMapRef`): the TokenRequest API of the controller's own cluster issues
//! a token with the remote cluster's audiences, and the remote cluster, trusting this cluster's
//! issuer, accepts it as a bearer token.
//!
//! Whose token: the ConfigMap's `serviceAccountName` in the object's namespace (object-level
//! workload identity, behind Flux's `ObjectLevelWorkloadIdentity` feature gate), else the
//! controller's own account, found as Flux finds it: the subject of the pod's mounted token.
//!
//! Tokens are cached per account and audiences and reissued once 80% of their lifetime has
//! passed, so a long health check or Helm wait never runs on an expired token. Tokens never
//! reach an error message or a log line.

use std::collections::HashMap;
use std::path::PathBuf;

use base64::Engine as _;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, PostParams};

/// Where Kubernetes mounts a pod's ServiceAccount token.
pub const POD_TOKEN_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// Flux's feature gate for tokens of an object's own ServiceAccount.
pub const OBJECT_LEVEL_GATE: &str = "ObjectLevelWorkloadIdentity";

/// Whose token authenticates to the remote cluster.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Account {
    /// The controller's own ServiceAccount (controller-level workload identity).
    Controller,
    /// A ServiceAccount of the object's namespace (object-level workload identity).
    Named {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
}

/// Why no token could be issued. Display texts follow Flux's error chain.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    /// An object names a ServiceAccount while the feature gate is off.
    #[error(
        "failed to get access token for cluster: {OBJECT_LEVEL_GATE} feature gate is not enabled"
    )]
    ObjectLevelDisabled,
    /// The controller's own account could not be determined.
    #[error(
        "failed to get access token for cluster: failed to create provider access token for the controller: {problem}"
    )]
    ControllerAccount {
        /// Why (the token file is missing or unreadable…).
        problem: String,
    },
    /// The TokenRequest API refused or failed.
    #[error(
        "failed to get access token for cluster: failed to create kubernetes token for {whose} '{namespace}/{name}': {problem}"
    )]
    Request {
        /// `service account` or `controller service account`.
        whose: &'static str,
        /// The account's namespace.
        namespace: String,
        /// The account's name.
        name: String,
        /// The API error.
        problem: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    account: Account,
    audiences: Vec<String>,
}

#[derive(Clone)]
struct Issued {
    token: String,
    renew_at: Timestamp,
}

/// Issues and caches ServiceAccount tokens with the controller's own client.
pub struct TokenSource {
    client: kube::Client,
    pod_token_file: PathBuf,
    object_level: bool,
    // An async lock: a burst of requests on an expired token issues one token, not many.
    cache: tokio::sync::Mutex<HashMap<Key, Issued>>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("pod_token_file", &self.pod_token_file)
            .field("object_level", &self.object_level)
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    /// Tokens issued through `client`; the controller's account is read from `pod_token_file`;
    /// named accounts are refused unless `object_level`.
    pub fn new(client: kube::Client, pod_token_file: PathBuf, object_level: bool) -> Self {
        Self {
            client,
            pod_token_file,
            object_level,
            cache: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Checks, without a request, whether `account` may be used at all.
    pub fn allowed(&self, account: &Account) -> Result<(), TokenError> {
        match account {
            Account::Named { .. } if !self.object_level => Err(TokenError::ObjectLevelDisabled),
            _ => Ok(()),
        }
    }

    /// A token of `account` for `audiences`: the cached one while fresh, else a new one.
    pub async fn token(
        &self,
        account: &Account,
        audiences: &[String],
    ) -> Result<String, TokenError> {
        self.allowed(account)?;
        let key = Key {
            account: account.clone(),
            audiences: audiences.to_vec(),
        };
        let mut cache = self.cache.lock().await;
        let now = Timestamp::now();
        if let Some(issued) = cache.get(&key).filter(|i| now < i.renew_at) {
            return Ok(issued.token.clone());
        }
        let issued = self.issue(account, audiences, now).await?;
        cache.retain(|_, i| now < i.renew_at);
        cache.insert(key, issued.clone());
        Ok(issued.token)
    }

    async fn issue(
        &self,
        account: &Account,
        audiences: &[String],
        now: Timestamp,
    ) -> Result<Issued, TokenError> {
        let (whose, namespace, name) = match account {
            Account::Named { namespace, name } => {
                ("service account", namespace.clone(), name.clone())
            }
            Account::Controller => {
                let (namespace, name) = self.controller_account().await?;
                ("controller service account", namespace, name)
            }
        };
        let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), &namespace);
        let request = TokenRequest {
            spec: Some(TokenRequestSpec {
                audiences: Some(audiences.to_vec()),
                ..TokenRequestSpec::default()
            }),
            ..TokenRequest::default()
        };
        let refused = |problem: String| TokenError::Request {
            whose,
            namespace: namespace.clone(),
            name: name.clone(),
            problem,
        };
        let issued = api
            .create_token_request(&name, &PostParams::default(), &request)
            .await
            .map_err(|e| refused(crate::target_client::api_problem(&e)))?;
        let status = issued.status.unwrap_or_default();
        let (Some(token), Some(expires)) = (status.token, status.expiration_timestamp) else {
            return Err(refused("the API server returned no token".to_owned()));
        };
        Ok(Issued {
            token,
            renew_at: renew_at(now, expires.0),
        })
    }

    /// `(namespace, name)` of the controller's account: the subject of the pod's token.
    async fn controller_account(&self) -> Result<(String, String), TokenError> {
        let path = &self.pod_token_file;
        let problem = |problem: String| TokenError::ControllerAccount { problem };
        let text = tokio::fs::read_to_string(path).await.map_err(|e| {
            problem(format!(
                "failed to read service account token file {}: {e}",
                path.display()
            ))
        })?;
        subject_account(text.trim()).map_err(problem)
    }
}

/// When a token issued at `now` and expiring at `expires` is renewed: after 80% of its life.
fn renew_at(now: Timestamp, expires: Timestamp) -> Timestamp {
    let millis = expires.duration_since(now).as_millis().max(0) * 4 / 5;
    let keep = SignedDuration::from_millis(i64::try_from(millis).unwrap_or(i64::MAX));
    now.checked_add(keep).unwrap_or(now)
}

/// The account of a ServiceAccount JWT's `sub` (`system:serviceaccount:<ns>:<name>`). The
/// signature is not checked: the token is our own pod's, and only names whom to ask for.
fn subject_account(jwt: &str) -> Result<(String, String), String> {
    let payload = jwt
        .split('.')
        .nth(1)
        .ok_or_else(|| "failed to parse service account token: not a JWT".to_owned())?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| "failed to parse service account token: not a JWT".to_owned())?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|_| "failed to parse service account token: not a JWT".to_owned())?;
    let sub = claims
        .get("sub")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| "failed to get subject from service account token".to_owned())?;
    match sub.split(':').collect::<Vec<_>>().as_slice() {
        ["system", "serviceaccount", namespace, name] => {
            Ok(((*namespace).to_owned(), (*name).to_owned()))
        }
        _ => Err(format!(
            "invalid subject format in service account token: {sub}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &serde_json::Value) -> String {
        let enc = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.c2ln",
            enc.encode(br#"{"alg":"RS256"}"#),
            enc.encode(claims.to_string())
        )
    }

    #[test]
    fn the_controller_account_is_the_subject_of_the_pod_token() {
        let token = jwt(
            &serde_json::json!({"sub": "system:serviceaccount:flux-system:kustomize-controller"}),
        );
        assert_eq!(
            subject_account(&token),
            Ok(("flux-system".to_owned(), "kustomize-controller".to_owned()))
        );
    }

    #[test]
    fn a_pod_token_without_a_service_account_subject_is_refused() {
        let token = jwt(&serde_json::json!({"sub": "admin"}));
        assert_eq!(
            subject_account(&token),
            Err("invalid subject format in service account token: admin".to_owned())
        );
        let token = jwt(&serde_json::json!({"iss": "x"}));
        assert!(subject_account(&token).is_err());
        assert!(subject_account("garbage").is_err());
    }

    #[test]
    fn tokens_are_renewed_after_four_fifths_of_their_life() {
        let now = Timestamp::from_second(1_000_000).expect("time");
        let expires = Timestamp::from_second(1_003_600).expect("time");
        assert_eq!(
            renew_at(now, expires),
            Timestamp::from_second(1_002_880).expect("time")
        );
        // An already expired token is renewed at once.
        assert_eq!(renew_at(expires, now), expires);
    }

    #[test]
    fn a_named_account_needs_the_object_level_feature_gate() {
        let named = Account::Named {
            namespace: "apps".into(),
            name: "deployer".into(),
        };
        let message = TokenError::ObjectLevelDisabled.to_string();
        assert_eq!(
            message,
            "failed to get access token for cluster: ObjectLevelWorkloadIdentity feature gate is not enabled"
        );
        // `allowed` needs no client: build one that is never used.
        let config = kube::Config::new("https://127.0.0.1:1".parse().expect("uri"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let client = kube::Client::try_from(config).expect("client");
            let off = TokenSource::new(client.clone(), POD_TOKEN_FILE.into(), false);
            assert!(matches!(
                off.allowed(&named),
                Err(TokenError::ObjectLevelDisabled)
            ));
            assert!(off.allowed(&Account::Controller).is_ok());
            let on = TokenSource::new(client, POD_TOKEN_FILE.into(), true);
            assert!(on.allowed(&named).is_ok());
        });
    }
}
