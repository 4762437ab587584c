//! The Git half of a run against a loopback git server, without a cluster: a push that
//! loses a race is redone on the new tip without losing the change or the other commit.

#![allow(clippy::panic)]

use std::collections::BTreeMap;
use std::time::Duration;

use driftless_api::image::ImageRef;
use driftless_git::{Auth, PushTarget};
use driftless_image_automation_controller::git::{MessageInput, Outcome, Plan, run};
use testkit::git_server::{GitAuth, GitServer};

const MANIFEST: &str = "image: registry.example/app:1.0.0 # {\"$imagepolicy\": \"apps:app\"}\n";

fn plan(url: String, tag: &str) -> Plan {
    Plan {
        url,
        auth: Auth::default(),
        timeout: Duration::from_secs(30),
        shallow: true,
        checkout_branch: "main".into(),
        targets: vec![PushTarget::branch("main")],
        push_options: Vec::new(),
        update_path: String::new(),
        images: BTreeMap::from([(
            "apps:app".to_string(),
            ImageRef {
                name: "registry.example/app".into(),
                tag: tag.into(),
                digest: None,
            },
        )]),
        author_name: "bot".into(),
        author_email: "bot@example.invalid".into(),
        message: MessageInput::default(),
        unchanged_since: None,
        signing_key: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_that_loses_a_race_is_redone_on_the_new_tip_keeping_both_commits()
-> anyhow::Result<()> {
    let server = GitServer::start(GitAuth::None).await?;
    let repo = server.create_repo("fleet")?;
    server.allow_push("fleet")?;
    repo.commit_files("main", &[("app.yaml", MANIFEST)], "base")?;
    server.race_first_push("fleet", "main")?;

    let plan = plan(server.url("fleet"), "1.0.1");
    let outcome = tokio::task::block_in_place(|| run(&plan))?;
    let Outcome::Pushed {
        commit, revision, ..
    } = outcome
    else {
        panic!("expected a push, got {outcome:?}");
    };
    let log = server.git_in_repo("fleet", &["log", "--format=%H %an %s", "-3", "main"])?;
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(
        lines[0],
        format!("{commit} bot Update from image update automation")
    );
    assert!(lines[1].ends_with(" racer concurrent"), "{log}");
    assert_eq!(revision, format!("main@sha1:{commit}"));
    assert_eq!(
        server.git_in_repo("fleet", &["show", "main:app.yaml"])?,
        MANIFEST.replace("1.0.0", "1.0.1")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_up_to_date_repository_is_not_committed_to() -> anyhow::Result<()> {
    let server = GitServer::start(GitAuth::None).await?;
    let repo = server.create_repo("fleet")?;
    server.allow_push("fleet")?;
    let base = repo.commit_files("main", &[("app.yaml", MANIFEST)], "base")?;
    let plan = plan(server.url("fleet"), "1.0.0");
    let outcome = tokio::task::block_in_place(|| run(&plan))?;
    assert_eq!(
        outcome,
        Outcome::UpToDate {
            revision: format!("main@sha1:{base}")
        }
    );
    assert_eq!(
        server.git_in_repo("fleet", &["rev-parse", "main"])?.trim(),
        base
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unchanged_source_and_policies_skip_the_clone_after_one_ref_listing()
-> anyhow::Result<()> {
    let server = GitServer::start(GitAuth::None).await?;
    let repo = server.create_repo("fleet")?;
    server.allow_push("fleet")?;
    let base = repo.commit_files("main", &[("app.yaml", MANIFEST)], "base")?;
    // The image differs, but the caller says nothing changed since `base`: no commit.
    let mut skipped = plan(server.url("fleet"), "1.0.1");
    skipped.unchanged_since = Some(format!("main@sha1:{base}"));
    let outcome = tokio::task::block_in_place(|| run(&skipped))?;
    assert_eq!(
        outcome,
        Outcome::UpToDate {
            revision: format!("main@sha1:{base}")
        }
    );
    assert_eq!(
        server.git_in_repo("fleet", &["rev-parse", "main"])?.trim(),
        base
    );
    // Once the branch moves, the run goes ahead.
    repo.commit_files("main", &[("other.txt", "x\n")], "someone else")?;
    let outcome = tokio::task::block_in_place(|| run(&skipped))?;
    assert!(matches!(outcome, Outcome::Pushed { .. }), "{outcome:?}");
    Ok(())
}
