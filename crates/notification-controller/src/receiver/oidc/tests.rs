use serde_json::json;

use super::testsupport::{Issuer, Signer};
use super::*;

fn parse(token: &str) -> Token {
    Token::parse(token).expect("parses")
}

#[tokio::test]
async fn a_token_signed_by_the_issuer_for_us_is_accepted_and_keys_are_cached() {
    let issuer = Issuer::start(Signer::rsa("k1")).await;
    let verifier = Verifier::new().expect("verifier");
    for _ in 0..3 {
        let token = parse(&issuer.token("flux", json!({})));
        verifier
            .verify(&token, &issuer.url, &[&issuer.url], "flux")
            .await
            .expect("accepted");
    }
    assert_eq!(issuer.jwks_fetches(), 1);
}

#[tokio::test]
async fn another_issuers_key_fails_the_signature_and_refetches_at_most_once() {
    let issuer = Issuer::start(Signer::ecdsa("k1")).await;
    let verifier = Verifier::new().expect("verifier");
    let good = parse(&issuer.token("flux", json!({})));
    verifier
        .verify(&good, &issuer.url, &[&issuer.url], "flux")
        .await
        .expect("accepted");
    // Same kid, same iss, but signed by a key the issuer never published.
    let forger = Signer::ecdsa("k1");
    let forged = parse(&forger.sign(&json!({"iss": issuer.url, "aud": "flux",
        "exp": testsupport::now() + 60})));
    for _ in 0..3 {
        let error = verifier
            .verify(&forged, &issuer.url, &[&issuer.url], "flux")
            .await
            .expect_err("forged");
        assert_eq!(error, OidcError::Token(TokenError::Signature));
    }
    assert_eq!(issuer.jwks_fetches(), 1, "refetched within MIN_REFRESH");
}

#[tokio::test]
async fn wrong_issuer_audience_or_expiry_are_refused_after_the_signature() {
    let issuer = Issuer::start(Signer::rsa("k1")).await;
    let verifier = Verifier::new().expect("verifier");
    let other_aud = parse(&issuer.token("someone-else", json!({})));
    assert!(matches!(
        verifier
            .verify(&other_aud, &issuer.url, &[&issuer.url], "flux")
            .await,
        Err(OidcError::Token(TokenError::Audience { .. }))
    ));
    let expired = parse(&issuer.token("flux", json!({"exp": testsupport::now() - 5})));
    assert!(matches!(
        verifier
            .verify(&expired, &issuer.url, &[&issuer.url], "flux")
            .await,
        Err(OidcError::Token(TokenError::Expired { .. }))
    ));
    let good = parse(&issuer.token("flux", json!({})));
    assert!(matches!(
        verifier
            .verify(&good, &issuer.url, &["https://accounts.google.com"], "flux")
            .await,
        Err(OidcError::Token(TokenError::Issuer { .. }))
    ));
}

#[tokio::test]
async fn an_unreachable_issuer_is_a_key_fetch_error_not_a_bad_token() {
    let verifier = Verifier::new().expect("verifier");
    let signer = Signer::rsa("k1");
    let token = parse(
        &signer.sign(&json!({"iss": "http://127.0.0.1:9", "aud": "flux",
        "exp": testsupport::now() + 60})),
    );
    let error = verifier
        .verify(
            &token,
            "http://127.0.0.1:9",
            &["http://127.0.0.1:9"],
            "flux",
        )
        .await
        .expect_err("unreachable");
    assert!(matches!(error, OidcError::Keys { .. }), "{error}");
}

#[tokio::test]
async fn a_discovery_document_for_another_issuer_is_refused() {
    let issuer = Issuer::start(Signer::rsa("k1")).await;
    let verifier = Verifier::new().expect("verifier");
    // The same server reached under another name: its document names the other URL.
    let alias = issuer.url.replace("127.0.0.1", "localhost");
    let token = parse(&issuer.token("flux", json!({"iss": alias})));
    let error = verifier
        .verify(&token, &alias, &[&alias], "flux")
        .await
        .expect_err("issuer mismatch");
    assert!(
        error
            .to_string()
            .contains("discovery document names issuer"),
        "{error}"
    );
}
