//! `bootstrap git --url=ssh://… --private-key-file=…` end to end: a private sshd on loopback
//! serving a test git server's repository, source- and kustomize-controller in-process. The
//! manifests are pushed over SSH, the `flux-system` Secret gets `identity`, `identity.pub` and
//! the scanned `known_hosts`, and source-controller follows the repository over SSH with it.
//! Without `--private-key-file` bootstrap generates the deploy key (ECDSA P-384 by default,
//! ed25519, RSA): the test gives it access on the sshd as a user would before confirming.

mod commands_common;
mod common;
#[path = "../../kustomize-controller/tests/common/mod.rs"]
mod kc;
#[allow(unused_imports)]
#[path = "../../source-controller/tests/common/mod.rs"]
mod sc;

use clap::Parser;
use commands_common::capture;
use driftless_cli::commands::bootstrap::{
    BootstrapArgs, PROMPT, SYNC_NAME, bootstrap, bootstrap_answering,
};
use driftless_cli::commands::kinds;
use driftless_cli::manifests::Install;
use driftless_runtime::flags::GoDuration;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;
use testkit::git_server::{GitAuth, GitServer};
use testkit::ssh_server::{SshServer, generate_key};

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: BootstrapArgs,
}

/// The controllers under test only see objects with the test's shard label; bootstrap's own
/// objects get it as soon as they exist.
fn label_sync_objects(client: kube::Client, ns: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let patch = json!({"metadata": {"labels": {kc::SHARD_LABEL: ns}}});
        loop {
            for kind in [kinds::GIT_REPOSITORY, kinds::KUSTOMIZATION] {
                let _ = kind
                    .api(&client, Some(&ns))
                    .patch(SYNC_NAME, &PatchParams::default(), &Patch::Merge(&patch))
                    .await;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    })
}

/// What both tests start from: sshd, a namespace (the controllers' shard), a Git repository
/// holding one app ConfigMap with `value`, source- and kustomize-controller on the shard, and
/// the labeller that puts bootstrap's objects on that shard. None when sshd is not installed.
struct Fleet {
    ssh: SshServer,
    cluster: testkit::TestCluster,
    ns: testkit::TestNamespace,
    shard: String,
    client: kube::Client,
    git: GitServer,
    repo: testkit::git_server::TestRepo,
    sources: sc::RunningController,
    appliers: kc::RunningController,
    labeller: tokio::task::JoinHandle<()>,
}

impl Fleet {
    async fn start(prefix: &str, value: &str) -> Option<Self> {
        let ssh = SshServer::start_or_skip().expect("sshd")?;
        let cluster = testkit::cluster().await.expect("cluster");
        kc::install_crds(&cluster.client).await.expect("crds");
        let ns = testkit::TestNamespace::create(&cluster, prefix)
            .await
            .expect("ns");
        let shard = ns.name().to_owned();
        let client = cluster.client.clone();
        let git = GitServer::start(GitAuth::None).await.expect("git server");
        let repo = git.create_repo("fleet").expect("repo");
        let app = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: {shard}\ndata:\n  value: {value}\n"
        );
        repo.commit_files("main", &[("clusters/test/apps/app.yaml", &app)], "app")
            .expect("commit");
        let sources = sc::RunningController::start(&cluster, &shard)
            .await
            .expect("source-controller");
        let appliers = kc::RunningController::start(&cluster, &shard, &[])
            .await
            .expect("kustomize-controller");
        let labeller = label_sync_objects(client.clone(), shard.clone());
        Some(Self {
            ssh,
            cluster,
            ns,
            shard,
            client,
            git,
            repo,
            sources,
            appliers,
            labeller,
        })
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bootstrap_over_ssh_pushes_stores_the_key_and_known_hosts_and_the_cluster_follows() {
    let Some(Fleet {
        ssh,
        cluster,
        ns: _ns,
        shard,
        client,
        git,
        repo: _repo,
        sources,
        appliers,
        labeller,
    }) = Fleet::start("cli-boot-ssh", "one").await
    else {
        return;
    };

    // An encrypted key: `--password` is its passphrase and lands in the Secret as `password`.
    let key = generate_key("ed25519", Some("boot-pw-51c2")).expect("key");
    ssh.authorize(&key.public).expect("authorize");
    let key_dir = tempfile::tempdir().expect("tempdir");
    let key_file = key_dir.path().join("id_ed25519");
    std::fs::write(&key_file, &key.private).expect("key file");
    let argv = format!(
        "bootstrap git --url={} --branch=main --path=clusters/test --password=boot-pw-51c2 \
         --private-key-file={} --author-email=flux@example.com -n {shard} --timeout=90s",
        ssh.url(&git.repo_path("fleet")),
        key_file.display()
    );
    let mut args = Cli::try_parse_from(argv.split_whitespace())
        .expect("parses")
        .args;
    args.kube.timeout = GoDuration(kc::WAIT);
    let run = capture(async |p| bootstrap(&client, &args, p).await).await;
    let (err, result) = (run.err, run.result);
    result.unwrap_or_else(|e| panic!("bootstrap failed: {e}\n{err}"));
    assert!(
        err.contains("✔ committed component manifests to \"main\""),
        "{err}"
    );
    assert!(
        err.contains("✔ committed sync manifests to \"main\""),
        "{err}"
    );
    assert!(
        err.contains("✔ Kustomization reconciled successfully"),
        "{err}"
    );
    assert!(!err.contains("boot-pw-51c2"), "the password leaked:\n{err}");
    assert!(!err.contains("PRIVATE KEY"), "the key leaked:\n{err}");
    let secret = Api::<Secret>::namespaced(client.clone(), &shard)
        .get(SYNC_NAME)
        .await
        .expect("flux-system Secret");
    let data = secret.data.expect("data");
    let text = |k: &str| String::from_utf8(data[k].0.clone()).expect("utf-8");
    assert_eq!(text("identity"), key.private);
    assert!(
        key.public.starts_with(text("identity.pub").trim()),
        "{}",
        text("identity.pub")
    );
    assert_eq!(text("known_hosts"), ssh.known_hosts());
    assert_eq!(text("password"), "boot-pw-51c2");

    // The commits are real, on the branch, with flux's messages and files.
    let log = git
        .git_in_repo("fleet", &["log", "--format=%an <%ae> %s", "main"])
        .expect("git log");
    assert!(
        log.starts_with("Flux <flux@example.com> Add Flux sync manifests\n"),
        "{log}"
    );
    assert!(log.contains("component manifests\n"), "{log}");
    let files = git
        .git_in_repo(
            "fleet",
            &[
                "ls-tree",
                "-r",
                "--name-only",
                "main",
                "clusters/test/flux-system",
            ],
        )
        .expect("ls-tree");
    assert_eq!(
        files,
        "clusters/test/flux-system/gotk-components.yaml\nclusters/test/flux-system/gotk-sync.yaml\nclusters/test/flux-system/kustomization.yaml\n"
    );
    // The cluster applied the path, the app included.
    let cm: Api<ConfigMap> = Api::namespaced(client.clone(), &shard);
    assert_eq!(
        cm.get("app").await.expect("app").data.expect("data")["value"],
        "one"
    );

    // Again: nothing new to commit, and the cluster is still in sync.
    let run = capture(async |p| bootstrap(&client, &args, p).await).await;
    let (err, result) = (run.err, run.result);
    result.unwrap_or_else(|e| panic!("second bootstrap failed: {e}\n{err}"));
    assert!(
        err.contains("✔ component manifests are up to date"),
        "{err}"
    );
    assert!(err.contains("✔ sync manifests are up to date"), "{err}");
    let log_again = git
        .git_in_repo("fleet", &["log", "--format=%an <%ae> %s", "main"])
        .expect("git log");
    assert_eq!(log, log_again);

    tear_down(&cluster, &shard, labeller, appliers, sources).await;
}

/// A bootstrap invocation of the generated-key tests: flags on top of the common ones.
fn args_for(ssh: &SshServer, git: &GitServer, shard: &str, extra: &str) -> BootstrapArgs {
    let argv = format!(
        "bootstrap git --url={} --branch=main --path=clusters/test \
         --author-email=flux@example.com -n {shard} --timeout=90s {extra}",
        ssh.url(&git.repo_path("fleet")),
    );
    let mut args = Cli::try_parse_from(argv.split_whitespace())
        .expect("parses")
        .args;
    args.kube.timeout = GoDuration(kc::WAIT);
    args
}

/// The public key bootstrap printed (`✔ public key: <type> <base64>`).
fn printed_key(err: &str) -> Option<String> {
    err.lines()
        .find_map(|l| l.strip_prefix("✔ public key: "))
        .map(str::to_owned)
}

/// The Secret's keys as text.
async fn secret_text(client: &kube::Client, ns: &str, name: &str) -> Option<SecretText> {
    let secret = Api::<Secret>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await
        .expect("read Secret")?;
    let data = secret.data.expect("data");
    let text = |k: &str| String::from_utf8(data[k].0.clone()).expect("utf-8");
    Some(SecretText {
        identity: text("identity"),
        public: text("identity.pub"),
        known_hosts: text("known_hosts"),
    })
}

struct SecretText {
    identity: String,
    public: String,
    known_hosts: String,
}

fn commit_subjects(git: &GitServer) -> String {
    git.git_in_repo("fleet", &["log", "--format=%s", "main"])
        .expect("git log")
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_private_key_bootstrap_generates_a_deploy_key_the_user_authorizes_and_re_runs_keep_it()
 {
    let Some(Fleet {
        ssh,
        cluster,
        ns: _ns,
        shard,
        client,
        git,
        repo: _repo,
        sources,
        appliers,
        labeller,
    }) = Fleet::start("cli-boot-keygen", "generated").await
    else {
        return;
    };

    // The user says no: nothing is stored, nothing pushed.
    let args = args_for(&ssh, &git, &shard, "");
    let run = capture(async |p| {
        bootstrap_answering(&client, &args, &mut |_: &str| Ok("n\n".into()), p).await
    })
    .await;
    let err = run.result.expect_err("aborted");
    assert_eq!(err.to_string(), "aborting");
    assert!(
        run.err.contains(&format!("? {PROMPT} [y/N] ")),
        "{}",
        run.err
    );
    assert!(secret_text(&client, &shard, SYNC_NAME).await.is_none());
    assert_eq!(commit_subjects(&git), "app\n");

    // The default: an ECDSA P-384 key, printed; the user adds it to the server, then says yes.
    let mut shown = None;
    let run = capture(async |p| {
        let mut answer = |public: &str| {
            ssh.authorize(public).expect("authorize");
            shown = Some(public.to_owned());
            Ok("y\n".to_owned())
        };
        bootstrap_answering(&client, &args, &mut answer, p).await
    })
    .await;
    let (out, result) = (run.err, run.result);
    result.unwrap_or_else(|e| panic!("bootstrap failed: {e}\n{out}"));
    let printed = printed_key(&out).unwrap_or_else(|| panic!("no public key printed:\n{out}"));
    assert!(printed.starts_with("ecdsa-sha2-nistp384 "), "{printed}");
    assert_eq!(shown.as_deref().map(str::trim), Some(printed.as_str()));
    for line in [
        &format!("► determining if source secret \"{shard}/flux-system\" exists"),
        "► generating source secret",
        "✔ reconciled source secret",
        "✔ committed sync manifests to \"main\"",
        "✔ Kustomization reconciled successfully",
    ] {
        assert!(out.contains(line), "{line} missing:\n{out}");
    }
    assert!(!out.contains("PRIVATE KEY"), "the key leaked:\n{out}");
    let stored = secret_text(&client, &shard, SYNC_NAME)
        .await
        .expect("Secret");
    assert_eq!(stored.public, format!("{printed}\n"));
    let derived =
        driftless_git::identity_public_key(stored.identity.as_bytes(), None).expect("identity");
    assert_eq!(derived.trim(), printed);
    assert_eq!(stored.known_hosts, ssh.known_hosts());
    let cm: Api<ConfigMap> = Api::namespaced(client.clone(), &shard);
    assert_eq!(
        cm.get("app").await.expect("app").data.expect("data")["value"],
        "generated"
    );

    // Again, silently: the stored key is reused, nothing is generated or committed.
    let args = args_for(&ssh, &git, &shard, "--silent");
    let before = commit_subjects(&git);
    let run = capture(async |p| {
        let mut answer = |_: &str| -> std::io::Result<String> { panic!("asked again") };
        bootstrap_answering(&client, &args, &mut answer, p).await
    })
    .await;
    let (out, result) = (run.err, run.result);
    result.unwrap_or_else(|e| panic!("second bootstrap failed: {e}\n{out}"));
    assert!(out.contains("✔ source secret up to date"), "{out}");
    assert!(!out.contains("public key:"), "{out}");
    assert!(out.contains("✔ sync manifests are up to date"), "{out}");
    assert_eq!(commit_subjects(&git), before);
    let again = secret_text(&client, &shard, SYNC_NAME)
        .await
        .expect("Secret");
    assert_eq!(again.identity, stored.identity);

    // The other algorithms, with --silent: flux assumes the key is set up, so the first push
    // with a fresh key is refused; the key stays stored, the user adds it and runs again.
    // The RSA run also names another host for the cluster with --ssh-hostname.
    let host = format!("localhost:{}", ssh.port());
    for (secret, flags, prefix) in [
        (
            "deploy-ed25519",
            "--ssh-key-algorithm=ed25519".to_owned(),
            "ssh-ed25519 ",
        ),
        (
            "deploy-rsa",
            format!("--ssh-key-algorithm=rsa --ssh-rsa-bits=2048 --ssh-hostname={host}"),
            "ssh-rsa ",
        ),
    ] {
        let args = args_for(
            &ssh,
            &git,
            &shard,
            &format!("--silent --secret-name={secret} {flags}"),
        );
        let run = capture(async |p| bootstrap(&client, &args, p).await).await;
        let err = run.result.expect_err("the key has no access yet");
        let hint = format!("the deploy key in Secret \"{shard}/{secret}\"");
        assert!(err.to_string().contains(&hint), "{err}");
        let printed =
            printed_key(&run.err).unwrap_or_else(|| panic!("no public key:\n{}", run.err));
        assert!(printed.starts_with(prefix), "{printed}");
        let stored = secret_text(&client, &shard, secret)
            .await
            .expect("the key is stored before the push");
        assert_eq!(stored.public.trim(), printed);

        ssh.authorize(&printed).expect("authorize");
        let run = capture(async |p| bootstrap(&client, &args, p).await).await;
        let (out, result) = (run.err, run.result);
        result.unwrap_or_else(|e| panic!("bootstrap with {flags} failed: {e}\n{out}"));
        assert!(out.contains("✔ source secret up to date"), "{out}");
        // The secretRef changed: a new sync commit the cluster fetched with the new key.
        assert!(
            out.contains("✔ committed sync manifests to \"main\""),
            "{out}"
        );
        assert!(
            out.contains("✔ GitRepository reconciled successfully"),
            "{out}"
        );
        let kept = secret_text(&client, &shard, secret).await.expect("Secret");
        assert_eq!(kept.identity, stored.identity);
        let repository = kinds::GIT_REPOSITORY
            .api(&client, Some(&shard))
            .get(SYNC_NAME)
            .await
            .expect("GitRepository");
        let spec = &repository.data["spec"];
        assert_eq!(spec["secretRef"]["name"], secret);
        if flags.contains("--ssh-hostname") {
            assert_eq!(
                kept.known_hosts,
                format!("[localhost]:{} {}\n", ssh.port(), ssh.host_public_key())
            );
            assert_eq!(
                spec["url"],
                format!(
                    "ssh://{}@{host}{}",
                    ssh.user(),
                    git.repo_path("fleet").display()
                )
            );
        } else {
            assert_eq!(kept.known_hosts, ssh.known_hosts());
        }
    }

    tear_down(&cluster, &shard, labeller, appliers, sources).await;
}

/// Cleans up without pruning: the Kustomization owns the shared CRDs, so it is suspended
/// before it goes (a suspended Kustomization is deleted without garbage collection); then the
/// controllers stop.
async fn tear_down(
    cluster: &testkit::TestCluster,
    shard: &str,
    labeller: tokio::task::JoinHandle<()>,
    appliers: kc::RunningController,
    sources: sc::RunningController,
) {
    let client = cluster.client.clone();
    labeller.abort();
    let ks = kinds::KUSTOMIZATION.api(&client, Some(shard));
    ks.patch(
        SYNC_NAME,
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"suspend": true}})),
    )
    .await
    .expect("suspend");
    ks.delete(SYNC_NAME, &DeleteParams::default())
        .await
        .expect("delete");
    testkit::wait::until(kc::WAIT, "flux-system Kustomization gone", || {
        let ks = ks.clone();
        async move {
            Ok(ks
                .get_opt(SYNC_NAME)
                .await
                .ok()
                .flatten()
                .is_none()
                .then_some(()))
        }
    })
    .await
    .expect("finalized");
    let install = Install {
        namespace: shard.to_owned(),
        ..Install::default()
    };
    common::delete_cluster_rbac(cluster, &install).await;
    appliers.stop().await.expect("kustomize-controller stops");
    sources.stop().await.expect("source-controller stops");
}
