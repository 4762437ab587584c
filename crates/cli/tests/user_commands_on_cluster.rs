//! The day-to-day user commands against the local control plane, with kustomize-controller
//! running in-process on a label shard and a GitRepository whose artifact a loopback server holds
//! (kustomize-controller's own test fixture, reused as it is).

mod commands_common;
#[path = "../../kustomize-controller/tests/common/mod.rs"]
mod kc;

use commands_common::{REVISION_1, capture, get_args, ks, kube};
use driftless_cli::commands::CommandError;
use driftless_cli::commands::cluster::ClusterError;
use driftless_cli::commands::delete::{DeleteArgs, delete};
use driftless_cli::commands::events::{EventsArgs, events};
use driftless_cli::commands::export::{ExportArgs, export};
use driftless_cli::commands::get::{GetWhat, SourceKind, get};
use driftless_cli::commands::kinds::{self, FluxKind};
use driftless_cli::commands::reconcile::{ReconcileArgs, reconcile};
use driftless_cli::commands::suspend::{SuspendArgs, set_suspended};
use driftless_cli::commands::target::{Names, Target};
use driftless_cli::commands::trace::{TraceArgs, trace};
use driftless_cli::commands::tree::{TreeArgs, TreeWhat, tree};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn a_kustomization_is_listed_reconciled_suspended_resumed_traced_exported_and_deleted() {
    let mut fx = kc::fixture("cli-ops", &[]).await.expect("fixture");
    let client = fx.cluster.client.clone();
    let ns = fx.ns.name().to_owned();
    let revision = fx
        .source
        .publish(&client, &[("cm.yaml", &kc::config_map("settings", "one"))])
        .await
        .expect("published");
    assert_eq!(revision, REVISION_1);
    fx.create("apps", json!({"targetNamespace": ns}))
        .await
        .expect("created");
    kc::wait_applied(&fx.api, "apps", &revision)
        .await
        .expect("applied");

    // get kustomizations: flux's columns, the revision cut to 8 hex digits. A reconcile that a
    // late watch event starts shows Ready=Unknown for a moment, as Flux's does; the listing is
    // read again until the controller is back at rest.
    let expected = "NAME\tREVISION          \tSUSPENDED\tREADY\tMESSAGE                              \n\
         apps\tmain@sha1:00000000\tFalse    \tTrue \tApplied revision: main@sha1:00000000\t\n";
    let mut listed = String::new();
    for _ in 0..50 {
        let run = capture(async |p| {
            get(
                &client,
                &get_args(&ns, GetWhat::Kustomizations { name: None }),
                p,
            )
            .await
        })
        .await;
        run.result.expect("get ks");
        listed = run.out;
        if listed == expected {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(listed, expected);

    // get sources git: the fixture's GitRepository is suspended (nobody reconciles it).
    let run = capture(async |p| {
        get(
            &client,
            &get_args(
                &ns,
                GetWhat::Sources {
                    kind: SourceKind::Git { name: None },
                },
            ),
            p,
        )
        .await
    })
    .await;
    run.result.expect("get sources git");
    assert!(
        run.out.contains("fleet\tmain@sha1:00000000\tTrue     \t"),
        "{}",
        run.out
    );

    // get all: kind-prefixed names, a blank line after each table.
    let run = capture(async |p| get(&client, &get_args(&ns, GetWhat::All), p).await).await;
    run.result.expect("get all");
    assert!(run.out.contains("\ngitrepository/fleet\tmain@sha1:00000000\tTrue     \tFalse\twaiting to be reconciled\t\n\n"), "{}", run.out);
    assert!(
        run.out
            .contains("\nkustomization/apps\tmain@sha1:00000000\tFalse    \tTrue \t"),
        "{}",
        run.out
    );
    assert!(run.out.ends_with("\t\n\n"), "{}", run.out);

    // reconcile ks: annotate, wait for that request to be handled, print the revision.
    let reconcile_args = ReconcileArgs {
        kube: kube(&ns),
        with_source: false,
        target: ks("apps"),
    };
    let run = capture(async |p| reconcile(&client, &reconcile_args, p).await).await;
    run.result.expect("reconcile");
    assert_eq!(
        run.err,
        format!(
            "► annotating Kustomization apps in {ns} namespace\n✔ Kustomization annotated\n\
             ◎ waiting for Kustomization reconciliation\n✔ applied revision {REVISION_1}\n"
        )
    );
    let annotated = fx.api.get("apps").await.expect("ks");
    let requested =
        annotated.metadata.annotations.unwrap_or_default()["reconcile.fluxcd.io/requestedAt"]
            .clone();
    let handled = annotated
        .status
        .and_then(|s| s.last_handled_reconcile_at)
        .expect("handled");
    assert_eq!(requested, handled);

    // --with-source refuses a suspended source, as flux does.
    let with_source = ReconcileArgs {
        kube: kube(&ns),
        with_source: true,
        target: ks("apps"),
    };
    let run = capture(async |p| reconcile(&client, &with_source, p).await).await;
    let err = run.result.expect_err("source is suspended").to_string();
    assert_eq!(err, "resource is suspended");

    // suspend, then reconcile refuses, then resume waits for the controller again.
    let suspend_args = SuspendArgs {
        kube: kube(&ns),
        wait: true,
        target: ks("apps"),
    };
    let run = capture(async |p| set_suspended(&client, &suspend_args, true, p).await).await;
    run.result.expect("suspend");
    assert_eq!(
        run.err,
        format!("► suspending kustomization apps in {ns} namespace\n✔ kustomization suspended\n")
    );
    let run = capture(async |p| reconcile(&client, &reconcile_args, p).await).await;
    assert_eq!(
        run.result.expect_err("suspended").to_string(),
        "resource is suspended"
    );
    let run = capture(async |p| {
        get(
            &client,
            &get_args(
                &ns,
                GetWhat::Kustomizations {
                    name: Some("apps".into()),
                },
            ),
            p,
        )
        .await
    })
    .await;
    assert!(run.out.contains("\tTrue     \t"), "{}", run.out);
    let run = capture(async |p| set_suspended(&client, &suspend_args, false, p).await).await;
    run.result.expect("resume");
    assert_eq!(
        run.err,
        format!(
            "► resuming kustomization apps in {ns} namespace\n✔ kustomization resumed\n\
             ◎ waiting for Kustomization reconciliation\n✔ Kustomization apps reconciliation completed\n\
             ✔ applied revision {REVISION_1}\n"
        )
    );

    // tree: the inventory.
    let tree_args = TreeArgs {
        kube: kube(&ns),
        compact: false,
        output: String::new(),
        what: TreeWhat::Kustomization {
            name: "apps".into(),
        },
    };
    let run = capture(async |p| tree(&client, &tree_args, p).await).await;
    run.result.expect("tree");
    assert_eq!(
        run.out,
        format!("Kustomization/{ns}/apps\n└── ConfigMap/{ns}/settings\n\n")
    );

    // trace: the ConfigMap -> apps -> fleet.
    let trace_args = TraceArgs {
        kube: kube(&ns),
        kind: None,
        api_version: None,
        object: vec!["configmap".into(), "settings".into()],
    };
    let run = capture(async |p| trace(&client, &trace_args, p).await).await;
    run.result.expect("trace");
    for line in [
        "\nObject:          ConfigMap/settings\n".to_owned(),
        format!(
            "Namespace:       {ns}\nStatus:          Managed by Flux\n---\nKustomization:   apps\n"
        ),
        format!("Target:          {ns}\nPath:            ./\nRevision:        {REVISION_1}\n"),
        "---\nGitRepository:   fleet\n".to_owned(),
        "URL:             https://example.invalid/fleet\n".to_owned(),
    ] {
        assert!(run.out.contains(&line), "{line:?} in\n{}", run.out);
    }

    // events --for: the controller's events about apps.
    let events_args = EventsArgs {
        kube: kube(&ns),
        all_namespaces: false,
        for_object: Some("Kustomization/apps".into()),
        types: Vec::new(),
    };
    let run = capture(async |p| events(&client, &events_args, p).await).await;
    run.result.expect("events");
    assert!(run.out.starts_with("LAST SEEN"), "{}", run.out);
    assert!(run.out.contains("\tNormal\t"), "{}", run.out);
    assert!(run.out.contains("\tKustomization/apps\t"), "{}", run.out);

    // export: no status, no server fields.
    let export_args = ExportArgs {
        kube: kube(&ns),
        all: false,
        target: ks("apps"),
    };
    let run = capture(async |p| export(&client, &export_args, p).await).await;
    run.result.expect("export");
    assert!(
        run.out.starts_with(
            "---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n"
        ),
        "{}",
        run.out
    );
    for absent in [
        "status:",
        "uid:",
        "resourceVersion:",
        "managedFields",
        "creationTimestamp",
        "generation:",
    ] {
        assert!(!run.out.contains(absent), "{absent} in\n{}", run.out);
    }
    assert!(
        run.out
            .contains("  sourceRef:\n    kind: GitRepository\n    name: fleet\n"),
        "{}",
        run.out
    );

    // delete --silent.
    let delete_args = DeleteArgs {
        kube: kube(&ns),
        silent: true,
        target: ks("apps"),
    };
    let run =
        capture(async |p| delete(&client, &delete_args, &mut std::io::empty(), p).await).await;
    run.result.expect("delete");
    assert_eq!(
        run.err,
        format!("► deleting kustomization apps in {ns} namespace\n✔ kustomization deleted\n")
    );
    fx.finish().await.expect("finished");
}

#[tokio::test]
async fn delete_without_confirmation_aborts_and_keeps_the_object() {
    let cluster = testkit::cluster().await.expect("cluster");
    kc::install_crds(&cluster.client).await.expect("crds");
    let ns = testkit::TestNamespace::create(&cluster, "cli-abort")
        .await
        .expect("ns");
    let source = kc::Source::start(&cluster.client, ns.name(), "fleet")
        .await
        .expect("source");
    let args = DeleteArgs {
        kube: kube(ns.name()),
        silent: false,
        target: Target::Source {
            kind: driftless_cli::commands::target::SourceTarget::Git(Names {
                names: vec![source.name.clone()],
            }),
        },
    };
    let run =
        capture(async |p| delete(&cluster.client, &args, &mut "n\n".as_bytes(), p).await).await;
    assert_eq!(run.result.expect_err("aborted").to_string(), "aborting");
    assert_eq!(
        run.err,
        "? Are you sure you want to delete this source git [y/N] "
    );
    kinds::GIT_REPOSITORY
        .api(&cluster.client, Some(ns.name()))
        .get("fleet")
        .await
        .expect("still there");
}

#[tokio::test]
async fn missing_objects_and_missing_crds_are_told_apart() {
    let cluster = testkit::cluster().await.expect("cluster");
    kc::install_crds(&cluster.client).await.expect("crds");
    let ns = testkit::TestNamespace::create(&cluster, "cli-missing")
        .await
        .expect("ns");
    let run = capture(async |p| {
        get(
            &cluster.client,
            &get_args(
                ns.name(),
                GetWhat::Kustomizations {
                    name: Some("nope".into()),
                },
            ),
            p,
        )
        .await
    })
    .await;
    assert_eq!(
        run.result.expect_err("not found").to_string(),
        format!(
            "Kustomization object 'nope' not found in \"{}\" namespace",
            ns.name()
        )
    );
    let run = capture(async |p| {
        get(
            &cluster.client,
            &get_args(ns.name(), GetWhat::Kustomizations { name: None }),
            p,
        )
        .await
    })
    .await;
    assert_eq!(
        run.result.expect_err("none").to_string(),
        format!(
            "no Kustomization objects found in \"{}\" namespace",
            ns.name()
        )
    );
    let reconcile_args = ReconcileArgs {
        kube: kube(ns.name()),
        with_source: false,
        target: ks("nope"),
    };
    let run = capture(async |p| reconcile(&cluster.client, &reconcile_args, p).await).await;
    assert!(matches!(
        run.result,
        Err(CommandError::Cluster(ClusterError::NotFound { .. }))
    ));
    // A kind whose CRD no test installs.
    let unknown = FluxKind {
        kind: "Nothing",
        group: "missing.driftless.test",
        version: "v1",
        plural: "nothings",
        human: "nothing",
    };
    let err = unknown
        .not_found(&cluster.client, "x", ns.name())
        .await
        .to_string();
    assert!(err.contains("nothings.missing.driftless.test"), "{err}");
    assert!(err.contains("hint: run `driftless install`"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tree_expands_a_kustomization_applied_by_another() {
    let mut fx = kc::fixture("cli-tree", &[]).await.expect("fixture");
    let client = fx.cluster.client.clone();
    let ns = fx.ns.name().to_owned();
    let shard = fx.controller.shard.clone();
    let child = format!(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: child\n  labels:\n    {}: {shard}\n\
         spec:\n  interval: 10m\n  path: ./child\n  prune: true\n  targetNamespace: {ns}\n  sourceRef:\n    kind: GitRepository\n    name: fleet\n",
        kc::SHARD_LABEL
    );
    let revision = fx
        .source
        .publish(
            &client,
            &[
                ("parent/ks.yaml", child.as_str()),
                ("child/cm.yaml", &kc::config_map("leaf", "one")),
            ],
        )
        .await
        .expect("published");
    fx.create("parent", json!({"path": "./parent", "targetNamespace": ns}))
        .await
        .expect("created");
    kc::wait_applied(&fx.api, "parent", &revision)
        .await
        .expect("parent applied");
    kc::wait_applied(&fx.api, "child", &revision)
        .await
        .expect("child applied");
    let mut args = TreeArgs {
        kube: kube(&ns),
        compact: false,
        output: String::new(),
        what: TreeWhat::Kustomization {
            name: "parent".into(),
        },
    };
    let run = capture(async |p| tree(&client, &args, p).await).await;
    run.result.expect("tree");
    assert_eq!(
        run.out,
        format!(
            "Kustomization/{ns}/parent\n└── Kustomization/{ns}/child\n    └── ConfigMap/{ns}/leaf\n\n"
        )
    );
    args.output = "json".into();
    let run = capture(async |p| tree(&client, &args, p).await).await;
    run.result.expect("tree -o json");
    let parsed: serde_json::Value = serde_json::from_str(&run.out).expect("tree -o json is JSON");
    assert_eq!(
        parsed["resources"][0]["resources"][0]["resource"],
        json!({"Namespace": ns, "Name": "leaf", "GroupKind": {"Group": "", "Kind": "ConfigMap"}})
    );
    assert!(run.out.ends_with("}\n"), "{}", run.out);
    args.output = "yaml".into();
    let run = capture(async |p| tree(&client, &args, p).await).await;
    run.result.expect("tree -o yaml");
    assert!(
        run.out.starts_with(&format!(
            "resource:\n  GroupKind:\n    Group: kustomize.toolkit.fluxcd.io\n    Kind: Kustomization\n  Name: parent\n  Namespace: {ns}\nresources:\n- resource:\n"
        )),
        "{}",
        run.out
    );
    args.output = String::new();
    args.compact = true;
    let run = capture(async |p| tree(&client, &args, p).await).await;
    run.result.expect("tree --compact");
    assert_eq!(
        run.out,
        format!("Kustomization/{ns}/parent\n└── Kustomization/{ns}/child\n\n")
    );
    fx.finish().await.expect("finished");
}
