//! The Receiver reconciler (notification.toolkit.fluxcd.io/v1), as Flux's: check the spec's
//! filters and wildcard entries (a bad one stalls with `ValidationFailed`), read the token from
//! `spec.secretRef` (missing: Ready=False `TokenNotFound`, retried with backoff), publish
//! `status.webhookPath` with Ready=True `Succeeded` "Receiver initialised for path: …", and
//! requeue at `spec.interval` (10m) so a rotated token moves the path. `generic-oidc` Receivers
//! have no Secret (their path comes from name and namespace alone) and stall with
//! `InvalidCELExpression` when a provider's expression does not compile; `gcr` Receivers also
//! need `email` and `audience` in their Secret.

use std::sync::Arc;
use std::time::Duration;

use driftless_api::conditions::reasons;
use driftless_api::notification::{Receiver, ReceiverType};
use driftless_runtime::error::{Classify, ErrorClass, chain};
use driftless_runtime::events::{EventType, Recorder};
use driftless_runtime::lifecycle::{Entry, enter};
use driftless_runtime::object::{FluxObject, ReconcileStatus, object_key};
use driftless_runtime::patch::{PatchError, patch_status, remove_finalizer, status_field_manager};
use driftless_runtime::schedule::Scheduler;
use driftless_runtime::summary::{Outcome, Schedule, SummaryRules, summarize};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;

use super::filter::Filter;
use super::identity::ProviderRules;
use super::trigger::has_claims;
use super::{gcr_identity, secret_data, token_of, webhook_path};

/// The metrics and workqueue name of this reconciler.
pub const METRICS_CONTROLLER: &str = "receiver";

/// Flux's reason when the token Secret or its `token` key is missing.
pub const TOKEN_NOT_FOUND: &str = "TokenNotFound";

/// Flux's reason for an invalid spec.
pub const VALIDATION_FAILED: &str = "ValidationFailed";

/// Flux's reason when a `generic-oidc` provider's CEL does not compile.
pub const INVALID_CEL_EXPRESSION: &str = "InvalidCELExpression";

/// Ready of a Receiver comes from the draft; no sub-conditions.
const READY_RULES: SummaryRules = SummaryRules {
    summarize: &[],
    negative_polarity: &[],
};

/// `spec.interval` default.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(600);

/// What every reconcile shares.
pub struct Context {
    /// The API client.
    pub client: kube::Client,
    /// Backoff and jitter.
    pub scheduler: Scheduler,
    /// Kubernetes events.
    pub recorder: Recorder,
    /// Reconcile metrics.
    pub metrics: Option<Arc<driftless_runtime::metrics::Metrics>>,
}

/// Why a Receiver reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The spec cannot work as written.
    #[error("{0}")]
    Invalid(String),
    /// An OIDC provider's variable or validation does not compile.
    #[error("{0}")]
    InvalidCel(String),
    /// The token could not be read.
    #[error("{0}")]
    Token(String),
    /// Writing the status or finalizer failed.
    #[error("patching the receiver failed")]
    Patch(#[source] Box<PatchError>),
}

impl Classify for ReconcileError {
    fn reason(&self) -> &'static str {
        match self {
            ReconcileError::Invalid(_) => VALIDATION_FAILED,
            ReconcileError::InvalidCel(_) => INVALID_CEL_EXPRESSION,
            ReconcileError::Token(_) => TOKEN_NOT_FOUND,
            ReconcileError::Patch(_) => reasons::PROGRESSING_WITH_RETRY,
        }
    }
    fn class(&self) -> ErrorClass {
        match self {
            ReconcileError::Invalid(_) | ReconcileError::InvalidCel(_) => ErrorClass::Stalled,
            ReconcileError::Token(_) | ReconcileError::Patch(_) => ErrorClass::Transient,
        }
    }
}

/// The spec's own mistakes: filters that do not compile, `*` without labels.
pub fn validate_spec(receiver: &Receiver) -> Result<(), ReconcileError> {
    let filters = receiver.spec.resource_filter.iter().chain(
        receiver
            .spec
            .resources
            .iter()
            .filter_map(|r| r.filter.as_ref()),
    );
    for expr in filters {
        Filter::compile(expr, has_claims(receiver))
            .map_err(|e| ReconcileError::Invalid(e.to_string()))?;
    }
    for provider in receiver.spec.oidc_providers.iter().flatten() {
        ProviderRules::compile(provider).map_err(|e| ReconcileError::InvalidCel(e.to_string()))?;
    }
    if let Some(entry) = receiver
        .spec
        .resources
        .iter()
        .find(|r| r.name == "*" && r.match_labels.as_ref().is_none_or(|l| l.is_empty()))
    {
        return Err(ReconcileError::Invalid(format!(
            "matchLabels must be set when name is '*' ({:?})",
            entry.kind
        )));
    }
    Ok(())
}

fn interval(receiver: &Receiver) -> Duration {
    receiver
        .spec
        .interval
        .as_deref()
        .and_then(|i| driftless_runtime::flags::duration::parse(i).ok())
        .unwrap_or(DEFAULT_INTERVAL)
}

/// Reconciles one Receiver.
pub async fn reconcile(
    receiver: Arc<Receiver>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let api: Api<Receiver> = Api::namespaced(
        ctx.client.clone(),
        &receiver.namespace().unwrap_or_default(),
    );
    let manager = status_field_manager(crate::CONTROLLER_NAME);
    let patch_error = |e| ReconcileError::Patch(Box::new(e));
    let receiver = match enter(&api, &receiver, &manager)
        .await
        .map_err(patch_error)?
    {
        Entry::Finalize => {
            remove_finalizer(&api, receiver.as_ref(), &manager)
                .await
                .map_err(patch_error)?;
            return Ok(Action::await_change());
        }
        Entry::Skip => return Ok(Action::await_change()),
        Entry::Reconcile(r) => r,
    };
    let timer = ctx
        .metrics
        .as_ref()
        .map(|m| m.start(METRICS_CONTROLLER, receiver.as_ref()));
    let mut draft = receiver.begin_draft(Time(jiff::Timestamp::now()));
    let mut status = receiver.status.clone().unwrap_or_default();
    let result = async {
        validate_spec(&receiver)?;
        let token = if receiver.spec.type_ == ReceiverType::GenericOidc {
            String::new()
        } else {
            let data = secret_data(&ctx.client, &receiver)
                .await
                .map_err(ReconcileError::Token)?;
            if receiver.spec.type_ == ReceiverType::Gcr {
                gcr_identity(&receiver, &data).map_err(ReconcileError::Token)?;
            }
            token_of(&receiver, &data).map_err(ReconcileError::Token)?
        };
        Ok::<_, ReconcileError>(webhook_path(
            &token,
            &receiver.name_any(),
            &receiver.namespace().unwrap_or_default(),
        ))
    }
    .await;
    let outcome = match &result {
        Ok(path) => {
            draft.succeeded_with(
                reasons::SUCCEEDED,
                format!("Receiver initialised for path: {path}"),
            );
            status.webhook_path = Some(path.clone());
            Outcome::Success
        }
        Err(e) => Outcome::Failed(e),
    };
    let schedule = Schedule {
        interval: interval(&receiver),
        retry_interval: None,
        requeue_dependency: DEFAULT_INTERVAL,
    };
    let summary = summarize(draft, outcome, &READY_RULES, &schedule);
    status.apply_summary(&summary);
    patch_status(&api, receiver.as_ref(), &status, &manager)
        .await
        .map_err(patch_error)?;
    if let Err(error) = &result {
        ctx.recorder
            .event(
                receiver.as_ref(),
                EventType::Warning,
                error.reason(),
                &chain(error),
                &[],
            )
            .await;
    }
    if let Some(timer) = timer {
        timer.finish(summary.next);
    }
    Ok(ctx
        .scheduler
        .action(&object_key(receiver.as_ref()), summary.next))
}

/// A reconcile that returned an error (only patch failures do) is retried with backoff.
pub fn error_policy(receiver: Arc<Receiver>, err: &ReconcileError, ctx: Arc<Context>) -> Action {
    tracing::warn!(name = %receiver.name_any(), namespace = ?receiver.namespace(),
        error = %chain(err), "reconcile failed; retrying with backoff");
    Action::requeue(ctx.scheduler.failure(&object_key(receiver.as_ref())))
}

#[cfg(test)]
mod tests {
    use driftless_api::notification::{FluxKind, ReceiverResource, ReceiverSpec};

    use super::*;

    fn receiver(filter: Option<&str>, resources: Vec<ReceiverResource>) -> Receiver {
        Receiver::new(
            "r",
            ReceiverSpec {
                resource_filter: filter.map(str::to_owned),
                resources,
                ..ReceiverSpec::default()
            },
        )
    }

    fn entry(name: &str) -> ReceiverResource {
        ReceiverResource {
            kind: FluxKind::GitRepository,
            name: name.into(),
            ..ReceiverResource::default()
        }
    }

    #[test]
    fn a_valid_spec_passes_and_a_bad_filter_or_bare_wildcard_stalls() {
        assert!(validate_spec(&receiver(Some("req.ref == 'main'"), vec![entry("app")])).is_ok());
        let bad = validate_spec(&receiver(Some("req.ref =="), vec![entry("app")]))
            .expect_err("syntax error");
        assert_eq!(bad.reason(), VALIDATION_FAILED);
        assert_eq!(bad.class(), ErrorClass::Stalled);
        assert!(validate_spec(&receiver(None, vec![entry("*")])).is_err());
    }

    #[test]
    fn an_oidc_provider_expression_that_does_not_compile_stalls_with_fluxs_reason() {
        use driftless_api::notification::{OIDCProvider, OIDCValidation, OIDCVariable};
        let provider = |variable: &str, validation: &str| OIDCProvider {
            issuer_url: "https://token.actions.githubusercontent.com".into(),
            variables: Some(vec![OIDCVariable {
                name: "owner".into(),
                expression: variable.into(),
            }]),
            validations: vec![OIDCValidation {
                expression: validation.into(),
                message: "wrong org".into(),
            }],
            ..OIDCProvider::default()
        };
        let mut r = receiver(
            Some("claims.repository == res.metadata.name"),
            vec![entry("app")],
        );
        r.spec.type_ = ReceiverType::GenericOidc;
        r.spec.oidc_providers = Some(vec![provider(
            "claims.repository_owner",
            "vars.owner == 'org'",
        )]);
        assert!(validate_spec(&r).is_ok());
        r.spec.oidc_providers = Some(vec![provider("claims.repository_owner", "vars.owner ==")]);
        let bad = validate_spec(&r).expect_err("syntax error");
        assert_eq!(bad.reason(), INVALID_CEL_EXPRESSION);
        assert_eq!(bad.class(), ErrorClass::Stalled);
        r.spec.oidc_providers = Some(vec![provider("req.owner", "true")]);
        assert!(
            validate_spec(&r).is_err(),
            "only claims and vars are declared"
        );
        // `claims` in a filter is for generic-oidc only.
        r.spec.type_ = ReceiverType::GitHub;
        r.spec.oidc_providers = None;
        assert_eq!(
            validate_spec(&r).expect_err("claims").reason(),
            VALIDATION_FAILED
        );
    }

    #[test]
    fn a_missing_token_is_transient() {
        let e = ReconcileError::Token("no secret".into());
        assert_eq!(e.reason(), TOKEN_NOT_FOUND);
        assert_eq!(e.class(), ErrorClass::Transient);
    }
}
