//! Provider (`notification.toolkit.fluxcd.io/v1beta3`): where and how Alerts deliver events:
//! chat, incident tools, Git commit statuses, generic webhooks. Static: it has no status.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::LocalObjectReference;
use crate::schema;

/// Desired state of a Provider.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "notification.toolkit.fluxcd.io",
    version = "v1beta3",
    kind = "Provider",
    plural = "providers",
    namespaced,
    category = "all",
    category = "fluxcd",
    category = "fluxcd-notifications",
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    derive = "Default",
    derive = "PartialEq",
    doc = "Provider describes a notification service that Alerts send events to."
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "message": "spec.commitStatusExpr is only supported for the 'github', 'gitlab', 'gitea', 'bitbucketserver', 'bitbucket', 'azuredevops' provider types",
    "rule": "self.type == 'github' || self.type == 'gitlab' || self.type == 'gitea' || self.type == 'bitbucketserver' || self.type == 'bitbucket' || self.type == 'azuredevops' || !has(self.commitStatusExpr)"
}]))]
pub struct ProviderSpec {
    /// Endpoint of the service: webhook URL, API address or repository URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub address: Option<String>,
    /// Secret with `ca.crt`, and `tls.crt` plus `tls.key` for client authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<LocalObjectReference>,
    /// Channel, room or topic to post to.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub channel: Option<String>,
    /// CEL expression computing the commit status id (commit-status providers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit_status_expr: Option<String>,
    /// Not used; kept for compatibility.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = schema::DURATION_PATTERN))]
    pub interval: Option<String>,
    /// Deprecated: use `proxySecretRef`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), regex(pattern = "^(http|https)://.*$"))]
    pub proxy: Option<String>,
    /// Secret with the proxy `address` and optional `username` and `password`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_secret_ref: Option<LocalObjectReference>,
    /// Secret with `address`, `token`, `username`, `password` or `headers`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// ServiceAccount used for workload-identity authentication to cloud services.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Stop sending events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// Timeout of one delivery.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = schema::SHORT_DURATION_PATTERN))]
    pub timeout: Option<String>,
    /// The notification service.
    #[serde(rename = "type")]
    pub type_: ProviderType,
    /// Bot or user name to post as.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub username: Option<String>,
}

/// Notification services a Provider can deliver to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProviderType {
    /// Slack.
    Slack,
    /// Discord.
    Discord,
    /// Microsoft Teams.
    MsTeams,
    /// Rocket.Chat.
    Rocket,
    /// POST of the event JSON to `address`.
    #[default]
    Generic,
    /// POST of the event JSON signed with an HMAC of the token.
    #[serde(rename = "generic-hmac")]
    GenericHmac,
    /// GitHub commit status.
    GitHub,
    /// GitLab commit status.
    GitLab,
    /// Gitea commit status.
    Gitea,
    /// Gitea pull-request comment.
    GiteaPullRequestComment,
    /// Bitbucket Server / Data Center build status.
    BitbucketServer,
    /// Bitbucket Cloud build status.
    Bitbucket,
    /// Azure DevOps commit status.
    AzureDevOps,
    /// Google Chat.
    GoogleChat,
    /// Google Cloud Pub/Sub.
    GooglePubSub,
    /// Webex.
    Webex,
    /// Sentry.
    Sentry,
    /// Azure Event Hubs.
    AzureEventHub,
    /// Telegram.
    Telegram,
    /// Lark.
    Lark,
    /// Matrix.
    Matrix,
    /// Opsgenie.
    Opsgenie,
    /// Prometheus Alertmanager.
    AlertManager,
    /// Grafana annotations.
    Grafana,
    /// GitHub repository dispatch.
    GitHubDispatch,
    /// GitHub pull-request comment.
    GitHubPullRequestComment,
    /// GitLab merge-request comment.
    GitLabMergeRequestComment,
    /// PagerDuty.
    PagerDuty,
    /// Datadog events.
    Datadog,
    /// NATS.
    Nats,
    /// Zulip.
    Zulip,
    /// OpenTelemetry traces.
    Otel,
}
