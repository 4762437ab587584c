//! Setting up with the user commands against the local control plane: install, check and
//! uninstall; create from flux's flags; get --watch; the binary's errors.

mod commands_common;
#[path = "../../kustomize-controller/tests/common/mod.rs"]
mod kc;

use commands_common::{REVISION_1, capture, get_args, kube};
use driftless_cli::commands::get::{GetWhat, SourceKind, get};
use driftless_cli::commands::kinds;

/// The real install (flux-system, like the CRDs shared by every test, applied idempotently and
/// never removed): kwok runs the Deployments, so `check` sees them rolled out.
#[tokio::test]
async fn install_then_check_passes_every_check_in_flux_wording() {
    use driftless_cli::commands::check::{CheckArgs, check};
    use driftless_cli::commands::install::{InstallArgs, install};
    let cluster = testkit::cluster().await.expect("cluster");
    let args = InstallArgs {
        kube: kube("flux-system"),
        export: false,
        version: driftless_cli::manifests::VERSION_OF_THIS_BUILD.to_owned(),
    };
    let run = capture(async |p| install(&cluster.client, &args, p).await).await;
    run.result.expect("install");
    assert!(
        run.err.starts_with(
            "✚ generating manifests\n✔ manifests build completed\n► installing components in flux-system namespace\n"
        ),
        "{}",
        run.err
    );
    assert!(
        run.err.contains("✔ source-controller: deployment ready\n"),
        "{}",
        run.err
    );
    assert!(run.err.ends_with("✔ install finished\n"), "{}", run.err);

    let pre = CheckArgs {
        kube: kube("flux-system"),
        pre: true,
    };
    let run = capture(async |p| check(&cluster.client, &pre, p).await).await;
    run.result.expect("check --pre");
    assert_eq!(
        run.err,
        "► checking prerequisites\n✔ Kubernetes 1.37.2 >=1.33.0-0\n✔ prerequisites checks passed\n"
    );

    let full = CheckArgs {
        kube: kube("flux-system"),
        pre: false,
    };
    let run = capture(async |p| check(&cluster.client, &full, p).await).await;
    run.result.expect("check");
    for line in [
        "► checking version in cluster\n".to_owned(),
        format!(
            "✔ distribution: flux-{}\n",
            driftless_cli::manifests::VERSION_OF_THIS_BUILD
        ),
        "► checking controllers\n✔ ".to_owned(),
        "► ghcr.io/driftless/driftless:".to_owned(),
        "✔ kustomizations.kustomize.toolkit.fluxcd.io/v1\n".to_owned(),
        "✔ all checks passed\n".to_owned(),
    ] {
        assert!(run.err.contains(&line), "{line:?} in\n{}", run.err);
    }

    // uninstall (without --crds) removes the controllers and keeps the CRDs.
    use driftless_cli::commands::uninstall::{UninstallArgs, uninstall};
    let args = UninstallArgs {
        kube: kube("flux-system"),
        crds: false,
        keep_namespace: false,
        silent: true,
    };
    let run = capture(async |p| uninstall(&cluster.client, &args, p).await).await;
    run.result.expect("uninstall");
    assert_eq!(
        run.err,
        "► deleting components in flux-system namespace\n✔ uninstall finished\n"
    );
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(cluster.client.clone(), "flux-system");
    let left = deployments
        .list(&kube::api::ListParams::default().labels("app.kubernetes.io/part-of=flux"))
        .await
        .expect("list");
    assert!(
        left.items
            .iter()
            .all(|d| d.metadata.deletion_timestamp.is_some()),
        "{:?}",
        left.items
            .iter()
            .map(|d| &d.metadata.name)
            .collect::<Vec<_>>()
    );
    assert!(kinds::KUSTOMIZATION.is_served(&cluster.client).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn create_kustomization_applies_it_and_waits_until_it_is_ready() {
    use clap::Parser;
    use driftless_cli::commands::create::{CreateArgs, create};
    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: CreateArgs,
    }
    let mut fx = kc::fixture("cli-create", &[]).await.expect("fixture");
    let client = fx.cluster.client.clone();
    let ns = fx.ns.name().to_owned();
    fx.source
        .publish(&client, &[("cm.yaml", &kc::config_map("created", "one"))])
        .await
        .expect("published");
    let parse = |line: String| {
        Cli::try_parse_from(
            std::iter::once("create".to_owned()).chain(line.split_whitespace().map(str::to_owned)),
        )
        .expect("parses")
        .args
    };
    let args = parse(format!(
        "kustomization apps --source=GitRepository/fleet --path=./ --prune --target-namespace={ns} \
         --label={}={} -n {ns}",
        kc::SHARD_LABEL,
        fx.controller.shard
    ));
    let mut args = args;
    args.kube.timeout = driftless_runtime::flags::GoDuration(kc::WAIT);
    let run = capture(async |p| create(&client, &args, p).await).await;
    run.result.expect("create");
    assert_eq!(
        run.err,
        format!(
            "✚ generating Kustomization\n► applying Kustomization\n✔ Kustomization created\n\
             ◎ waiting for Kustomization reconciliation\n✔ Kustomization apps is ready\n\
             ✔ applied revision {REVISION_1}\n"
        )
    );
    fx.config_maps
        .get("created")
        .await
        .expect("applied by the controller");

    let secret = parse(format!(
        "secret git fleet-auth --url=https://example.invalid/fleet --username=git --password=s3cret -n {ns}"
    ));
    let run = capture(async |p| create(&client, &secret, p).await).await;
    run.result.expect("create secret");
    assert_eq!(
        run.err,
        format!("► git secret\n✔ git secret 'fleet-auth' created in '{ns}' namespace\n")
    );
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(client.clone(), &ns);
    let stored = secrets.get("fleet-auth").await.expect("secret");
    let data = stored.data.expect("data");
    assert_eq!(data["username"].0, b"git");
    assert_eq!(data["password"].0, b"s3cret");
    fx.finish().await.expect("finished");
}

#[tokio::test]
async fn get_watch_prints_the_header_once_then_rows_until_the_timeout() {
    let cluster = testkit::cluster().await.expect("cluster");
    kc::install_crds(&cluster.client).await.expect("crds");
    let ns = testkit::TestNamespace::create(&cluster, "cli-watch")
        .await
        .expect("ns");
    let _source = kc::Source::start(&cluster.client, ns.name(), "fleet")
        .await
        .expect("source");
    let mut args = get_args(
        ns.name(),
        GetWhat::Sources {
            kind: SourceKind::Git { name: None },
        },
    );
    args.watch = true;
    args.kube.timeout = driftless_runtime::flags::GoDuration(std::time::Duration::from_secs(2));
    let run = capture(async |p| get(&cluster.client, &args, p).await).await;
    run.result.expect("watch ends at the timeout");
    assert_eq!(
        run.out,
        "NAME \tREVISION\tSUSPENDED\tREADY\tMESSAGE                  \n\
         fleet\t        \tTrue     \tFalse\twaiting to be reconciled\t\n"
    );
}

#[test]
fn the_binary_reports_an_unusable_kubeconfig_with_a_hint_and_fails() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_driftless"))
        .args([
            "get",
            "ks",
            "--kubeconfig",
            "/nonexistent/driftless/kubeconfig",
        ])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: no usable kubeconfig: "),
        "{stderr}"
    );
    assert!(stderr.contains("hint: pass --kubeconfig"), "{stderr}");
}
