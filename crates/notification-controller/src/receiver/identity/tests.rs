use axum::http::HeaderValue;
use base64::engine::general_purpose::STANDARD;
use driftless_api::notification::{OIDCValidation, OIDCVariable, ReceiverSpec, ReceiverType};

use super::*;
use crate::receiver::oidc::testsupport::{Issuer, Signer};

const EMAIL: &str = "pusher@project.iam.gserviceaccount.com";
const AUDIENCE: &str = "https://flux.example/hook/abc";

fn bearer_headers(token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        "Authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).expect("header"),
    );
    headers
}

fn identity() -> GcrIdentity {
    GcrIdentity {
        email: EMAIL.into(),
        audience: AUDIENCE.into(),
    }
}

fn push(event: &Value) -> Vec<u8> {
    let data = STANDARD.encode(serde_json::to_vec(event).expect("json"));
    serde_json::to_vec(&json!({"message": {"data": data, "messageId": "1",
        "publishTime": "2026-11-26T12:00:00Z"}, "subscription": "projects/p/subscriptions/s"}))
    .expect("json")
}

fn gcr_event() -> Value {
    json!({"action": "INSERT", "digest": "europe-docker.pkg.dev/p/r/app@sha256:ab",
           "tag": "europe-docker.pkg.dev/p/r/app:1.2.4"})
}

#[tokio::test]
async fn a_google_signed_push_for_our_audience_and_account_is_unwrapped() {
    let google = Issuer::start(Signer::rsa("g1")).await;
    let verifier = Verifier::new().expect("verifier");
    let token = google.token(AUDIENCE, json!({"email": EMAIL, "email_verified": true}));
    let event = authenticate_gcr(
        &verifier,
        &google.url,
        &identity(),
        &bearer_headers(&token),
        &push(&gcr_event()),
    )
    .await
    .expect("accepted");
    assert_eq!(event, gcr_event());
}

#[tokio::test]
async fn a_push_with_the_wrong_account_audience_or_unverified_email_is_unauthorized() {
    let google = Issuer::start(Signer::rsa("g1")).await;
    let verifier = Verifier::new().expect("verifier");
    let cases = [
        (
            google.token(
                AUDIENCE,
                json!({"email": "evil@x.iam.gserviceaccount.com",
                "email_verified": true}),
            ),
            "token email is 'evil@x.iam.gserviceaccount.com'",
        ),
        (
            google.token(AUDIENCE, json!({"email": EMAIL, "email_verified": false})),
            "is not verified",
        ),
        (
            google.token(
                "https://other/hook",
                json!({"email": EMAIL, "email_verified": true}),
            ),
            "invalid ID token: expected audience",
        ),
    ];
    for (token, expected) in cases {
        let rejection = authenticate_gcr(
            &verifier,
            &google.url,
            &identity(),
            &bearer_headers(&token),
            &push(&gcr_event()),
        )
        .await
        .expect_err(expected);
        assert!(
            matches!(&rejection, Rejection::Unauthorized(m) if m.contains(expected)),
            "{rejection:?}"
        );
        assert!(!rejection.to_string().contains(&token));
    }
    let missing = authenticate_gcr(
        &verifier,
        &google.url,
        &identity(),
        &HeaderMap::new(),
        b"{}",
    )
    .await
    .expect_err("no header");
    assert_eq!(
        missing,
        Rejection::Unauthorized("the Authorization header is missing or malformed".into())
    );
}

#[tokio::test]
async fn an_authentic_push_without_a_registry_event_is_a_bad_request() {
    let google = Issuer::start(Signer::ecdsa("g1")).await;
    let verifier = Verifier::new().expect("verifier");
    let token = google.token(AUDIENCE, json!({"email": EMAIL, "email_verified": true}));
    let rejection = authenticate_gcr(
        &verifier,
        &google.url,
        &identity(),
        &bearer_headers(&token),
        br#"{"message": {"data": "not base64!"}}"#,
    )
    .await
    .expect_err("bad data");
    assert!(matches!(rejection, Rejection::Invalid(_)), "{rejection:?}");
}

fn oidc_receiver(issuer: &str, audience: Option<&str>) -> Receiver {
    Receiver::new(
        "ci",
        ReceiverSpec {
            type_: ReceiverType::GenericOidc,
            oidc_providers: Some(vec![OIDCProvider {
                issuer_url: issuer.into(),
                audience: audience.map(str::to_owned),
                variables: Some(vec![OIDCVariable {
                    name: "allowed".into(),
                    expression: "[claims.repository_owner + '/app']".into(),
                }]),
                validations: vec![
                    OIDCValidation {
                        expression: "claims.repository in vars.allowed".into(),
                        message: "wrong repo".into(),
                    },
                    OIDCValidation {
                        expression: "claims.environment == 'production'".into(),
                        message: "wrong environment".into(),
                    },
                ],
            }]),
            ..ReceiverSpec::default()
        },
    )
}

#[tokio::test]
async fn a_generic_oidc_caller_passing_every_validation_gets_its_claims_through() {
    let ci = Issuer::start(Signer::rsa("ci")).await;
    let verifier = Verifier::new().expect("verifier");
    let receiver = oidc_receiver(&ci.url, None);
    let token = ci.token(
        DEFAULT_OIDC_AUDIENCE,
        json!({"repository_owner": "org", "repository": "org/app", "environment": "production"}),
    );
    let claims = authenticate_oidc(&verifier, &receiver, &bearer_headers(&token))
        .await
        .expect("accepted");
    assert_eq!(claims["repository"], "org/app");
}

#[tokio::test]
async fn failed_validations_are_reported_together_and_forbidden() {
    let ci = Issuer::start(Signer::rsa("ci")).await;
    let verifier = Verifier::new().expect("verifier");
    let receiver = oidc_receiver(&ci.url, Some("flux"));
    let token = ci.token(
        "flux",
        json!({"repository_owner": "org", "repository": "evil/app", "environment": "staging"}),
    );
    let rejection = authenticate_oidc(&verifier, &receiver, &bearer_headers(&token))
        .await
        .expect_err("refused");
    assert_eq!(
        rejection,
        Rejection::Forbidden("wrong repo; wrong environment".into())
    );
}

#[tokio::test]
async fn tokens_from_unlisted_issuers_or_for_other_audiences_are_unauthorized() {
    let ci = Issuer::start(Signer::rsa("ci")).await;
    let stranger = Issuer::start(Signer::ecdsa("x")).await;
    let verifier = Verifier::new().expect("verifier");
    let receiver = oidc_receiver(&ci.url, None);
    let claims = json!({"repository_owner": "org", "repository": "org/app",
                        "environment": "production"});
    let unknown = stranger.token(DEFAULT_OIDC_AUDIENCE, claims.clone());
    let rejection = authenticate_oidc(&verifier, &receiver, &bearer_headers(&unknown))
        .await
        .expect_err("unknown issuer");
    assert!(
        matches!(&rejection, Rejection::Unauthorized(m) if m.contains("no oidcProvider configured")),
        "{rejection:?}"
    );
    let wrong_audience = ci.token("flux", claims);
    let rejection = authenticate_oidc(&verifier, &receiver, &bearer_headers(&wrong_audience))
        .await
        .expect_err("wrong audience");
    assert!(
        matches!(&rejection, Rejection::Unauthorized(m) if m.starts_with("unable to verify OIDC token")),
        "{rejection:?}"
    );
    let rejection = authenticate_oidc(&verifier, &receiver, &bearer_headers("not-a-jwt"))
        .await
        .expect_err("malformed");
    assert!(
        matches!(&rejection, Rejection::Unauthorized(m) if m.contains("unable to parse bearer token")),
        "{rejection:?}"
    );
}
