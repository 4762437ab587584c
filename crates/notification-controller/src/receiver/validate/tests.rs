use axum::http::HeaderValue;
use hmac::Mac;

use super::*;

const TOKEN: &str = "s3cr3t-token";

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, HeaderValue::from_str(v).expect("header value"));
    }
    h
}

fn sign<M: Mac + hmac::digest::KeyInit>(body: &[u8], key: &str) -> String {
    let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key.as_bytes()).expect("any key");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn sha256(body: &[u8], key: &str) -> String {
    format!("sha256={}", sign::<Hmac<sha2::Sha256>>(body, key))
}

const PUSH: &[u8] = br#"{"ref":"refs/heads/main"}"#;

#[test]
fn a_github_push_signed_with_the_token_is_accepted() {
    let h = headers(&[
        ("X-Hub-Signature-256", &sha256(PUSH, TOKEN)),
        ("X-GitHub-Event", "push"),
    ]);
    let events = vec!["ping".to_owned(), "Push".to_owned()];
    assert_eq!(
        validate(ReceiverType::GitHub, &events, TOKEN, &h, PUSH),
        Ok(Accepted {
            event: Some("push".into())
        })
    );
}

#[test]
fn a_forged_or_missing_github_signature_is_unauthorized_and_not_echoed() {
    let forged = sha256(PUSH, "not-the-token");
    for h in [
        headers(&[("X-Hub-Signature-256", &forged), ("X-GitHub-Event", "push")]),
        headers(&[("X-GitHub-Event", "push")]),
        headers(&[
            ("X-Hub-Signature-256", "sha256=zz"),
            ("X-GitHub-Event", "push"),
        ]),
    ] {
        let rejection = validate(ReceiverType::GitHub, &[], TOKEN, &h, PUSH).expect_err("forged");
        assert!(
            matches!(rejection, Rejection::Unauthorized(_)),
            "{rejection:?}"
        );
        assert!(!rejection.to_string().contains(&forged[7..]));
        assert!(!rejection.to_string().contains(TOKEN));
    }
}

#[test]
fn a_tampered_github_body_fails_its_signature() {
    let h = headers(&[
        ("X-Hub-Signature-256", &sha256(PUSH, TOKEN)),
        ("X-GitHub-Event", "push"),
    ]);
    let tampered = br#"{"ref":"refs/heads/evil"}"#;
    assert!(matches!(
        validate(ReceiverType::GitHub, &[], TOKEN, &h, tampered),
        Err(Rejection::Unauthorized(_))
    ));
}

#[test]
fn github_events_outside_the_list_are_invalid_and_the_legacy_sha1_header_works() {
    let sha1 = format!("sha1={}", sign::<Hmac<sha1::Sha1>>(PUSH, TOKEN));
    let h = headers(&[("X-Hub-Signature", &sha1), ("X-GitHub-Event", "issues")]);
    assert!(validate(ReceiverType::GitHub, &[], TOKEN, &h, PUSH).is_ok());
    assert!(matches!(
        validate(ReceiverType::GitHub, &["push".into()], TOKEN, &h, PUSH),
        Err(Rejection::Invalid(m)) if m.contains("'issues' is not authorised")
    ));
}

#[test]
fn a_github_form_payload_is_accepted() {
    let body = b"payload=%7B%22zen%22%3A%22hi%22%7D";
    let h = headers(&[
        ("X-Hub-Signature-256", &sha256(body, TOKEN)),
        ("X-GitHub-Event", "ping"),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ]);
    assert!(validate(ReceiverType::GitHub, &[], TOKEN, &h, body).is_ok());
}

#[test]
fn generic_hmac_accepts_sha1_sha256_and_sha512_signatures() {
    let body = b"anything";
    for signature in [
        format!("sha1={}", sign::<Hmac<sha1::Sha1>>(body, TOKEN)),
        sha256(body, TOKEN),
        format!("sha512={}", sign::<Hmac<sha2::Sha512>>(body, TOKEN)),
    ] {
        let h = headers(&[("X-Signature", &signature)]);
        assert!(validate(ReceiverType::GenericHmac, &[], TOKEN, &h, body).is_ok());
    }
    let h = headers(&[("X-Signature", "md5=00")]);
    assert!(validate(ReceiverType::GenericHmac, &[], TOKEN, &h, body).is_err());
}

#[test]
fn gitlab_and_harbor_compare_the_token_header() {
    let ok = headers(&[("X-Gitlab-Token", TOKEN), ("X-Gitlab-Event", "Push Hook")]);
    let wrong = headers(&[("X-Gitlab-Token", "nope"), ("X-Gitlab-Event", "Push Hook")]);
    let events = vec!["push hook".to_owned()];
    assert!(validate(ReceiverType::GitLab, &events, TOKEN, &ok, b"{}").is_ok());
    assert!(matches!(
        validate(ReceiverType::GitLab, &events, TOKEN, &wrong, b"{}"),
        Err(Rejection::Unauthorized(_))
    ));
    let harbor = headers(&[("Authorization", TOKEN)]);
    assert!(validate(ReceiverType::Harbor, &[], TOKEN, &harbor, b"{}").is_ok());
    assert!(validate(ReceiverType::Harbor, &[], TOKEN, &HeaderMap::new(), b"{}").is_err());
}

#[test]
fn bitbucket_checks_the_hub_signature_and_event_key() {
    let h = headers(&[
        ("X-Hub-Signature", &sha256(PUSH, TOKEN)),
        ("X-Event-Key", "repo:refs_changed"),
    ]);
    assert!(
        validate(
            ReceiverType::Bitbucket,
            &["repo:refs_changed".into()],
            TOKEN,
            &h,
            PUSH
        )
        .is_ok()
    );
    assert!(
        validate(
            ReceiverType::Bitbucket,
            &["repo:push".into()],
            TOKEN,
            &h,
            PUSH
        )
        .is_err()
    );
}

#[test]
fn nexus_needs_a_sha1_hex_signature_and_a_payload() {
    let body = br#"{"action":"CREATED","repositoryName":"r"}"#;
    let h = headers(&[(
        "X-Nexus-Webhook-Signature",
        &sign::<Hmac<sha1::Sha1>>(body, TOKEN),
    )]);
    assert!(validate(ReceiverType::Nexus, &[], TOKEN, &h, body).is_ok());
    assert!(matches!(
        validate(ReceiverType::Nexus, &[], TOKEN, &HeaderMap::new(), body),
        Err(Rejection::Unauthorized(_))
    ));
}

#[test]
fn registry_types_validate_the_payload_shape() {
    let none = HeaderMap::new();
    let dockerhub = br#"{"push_data":{"tag":"v1"},"repository":{"repo_url":"u"}}"#;
    assert!(validate(ReceiverType::DockerHub, &[], TOKEN, &none, dockerhub).is_ok());
    assert!(validate(ReceiverType::DockerHub, &[], TOKEN, &none, b"not json").is_err());
    let quay = br#"{"docker_url":"quay.io/x","updated_tags":["v1"]}"#;
    assert!(validate(ReceiverType::Quay, &[], TOKEN, &none, quay).is_ok());
    let acr = br#"{"action":"push","target":{"repository":"r","tag":"t"}}"#;
    assert!(validate(ReceiverType::Acr, &[], TOKEN, &none, acr).is_ok());
    assert!(matches!(
        validate(ReceiverType::Acr, &[], TOKEN, &none, b"{}"),
        Err(Rejection::Invalid(_))
    ));
}

#[test]
fn cdevents_filter_on_ce_type() {
    let h = headers(&[("Ce-Type", "dev.cdevents.change.merged.0.1.2")]);
    let events = vec!["dev.cdevents.change.merged.0.1.2".to_owned()];
    assert!(validate(ReceiverType::CDEvents, &events, TOKEN, &h, b"{}").is_ok());
    assert!(validate(ReceiverType::CDEvents, &["other".into()], TOKEN, &h, b"{}").is_err());
}

#[test]
fn token_typed_receivers_never_pass_the_shared_token_check() {
    // Even with the right shared token, gcr and generic-oidc calls need their ID token.
    let h = headers(&[("Authorization", TOKEN), ("X-Gitlab-Token", TOKEN)]);
    assert!(matches!(
        validate(ReceiverType::Gcr, &[], TOKEN, &h, b"{}"),
        Err(Rejection::Unauthorized(_))
    ));
    assert!(matches!(
        validate(ReceiverType::GenericOidc, &[], "", &h, b"{}"),
        Err(Rejection::Unauthorized(_))
    ));
}

#[test]
fn an_empty_token_never_verifies() {
    let h = headers(&[("X-Signature", &sha256(b"x", "")), ("X-Gitlab-Token", "")]);
    assert!(validate(ReceiverType::GenericHmac, &[], "", &h, b"x").is_err());
    assert!(validate(ReceiverType::GitLab, &[], "", &h, b"x").is_err());
}
