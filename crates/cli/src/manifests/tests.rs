//! What the rendered install must contain for Flux's tools and users' patches to find it.

use serde_json::Value;

use super::*;

fn install_objects() -> Vec<Value> {
    Install::default().objects().expect("renders")
}

fn of_kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

fn label<'a>(object: &'a Value, path: &str, key: &str) -> Option<&'a str> {
    object.pointer(path)?.get(key)?.as_str()
}

#[test]
fn there_is_one_deployment_per_controller_with_flux_labels() {
    let objects = install_objects();
    let deployments = of_kind(&objects, "Deployment");
    let names: Vec<&str> = deployments
        .iter()
        .filter_map(|d| d.pointer("/metadata/name")?.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "source-controller",
            "kustomize-controller",
            "helm-controller",
            "notification-controller",
            "image-reflector-controller",
            "image-automation-controller",
        ]
    );
    for deployment in deployments {
        let name = deployment["metadata"]["name"].as_str().expect("name");
        for path in ["/metadata/labels", "/spec/template/metadata/labels"] {
            assert_eq!(label(deployment, path, PART_OF), Some("flux"), "{name}");
            assert_eq!(label(deployment, path, COMPONENT), Some(name), "{name}");
            assert_eq!(label(deployment, path, INSTANCE), Some("flux-system"));
        }
        assert_eq!(
            label(deployment, "/spec/template/metadata/labels", "app"),
            Some(name)
        );
        assert_eq!(deployment["metadata"]["namespace"], "flux-system");
    }
}

#[test]
fn every_controller_runs_the_one_image_with_its_name_as_subcommand_and_flux_flags() {
    let objects = install_objects();
    for deployment in of_kind(&objects, "Deployment") {
        let name = deployment["metadata"]["name"].as_str().expect("name");
        let container = &deployment["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["name"], "manager");
        assert_eq!(
            container["image"],
            format!("ghcr.io/driftless/driftless:{VERSION_OF_THIS_BUILD}")
        );
        let args: Vec<&str> = container["args"]
            .as_array()
            .expect("args")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(args[0], name);
        for flag in [
            "--watch-all-namespaces=true",
            "--log-level=info",
            "--log-encoding=json",
            "--enable-leader-election",
        ] {
            assert!(args.contains(&flag), "{name} lacks {flag}: {args:?}");
        }
        let events = "--events-addr=http://notification-controller.flux-system.svc.cluster.local./";
        assert_eq!(
            args.contains(&events),
            name != "notification-controller",
            "{name}: {args:?}"
        );
        if name == "source-controller" {
            assert!(args.contains(&"--storage-path=/data"), "{args:?}");
        }
    }
}

#[test]
fn controllers_expose_metrics_health_and_their_http_ports_by_flux_names() {
    let objects = install_objects();
    for deployment in of_kind(&objects, "Deployment") {
        let name = deployment["metadata"]["name"].as_str().expect("name");
        let container = &deployment["spec"]["template"]["spec"]["containers"][0];
        let ports: Vec<(&str, i64)> = container["ports"]
            .as_array()
            .expect("ports")
            .iter()
            .filter_map(|p| Some((p["name"].as_str()?, p["containerPort"].as_i64()?)))
            .collect();
        assert!(ports.contains(&("http-prom", 8080)), "{name}: {ports:?}");
        assert!(ports.contains(&("healthz", 9440)), "{name}: {ports:?}");
        let serves_http = matches!(name, "source-controller" | "notification-controller");
        assert_eq!(ports.contains(&("http", 9090)), serves_http, "{name}");
        assert_eq!(
            ports.contains(&("http-webhook", 9292)),
            name == "notification-controller"
        );
        assert_eq!(container["livenessProbe"]["httpGet"]["port"], "healthz");
        assert_eq!(
            deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"],
            "8080"
        );
    }
}

#[test]
fn services_point_port_80_at_the_artifact_event_and_webhook_ports() {
    let objects = install_objects();
    let services: Vec<(&str, &str, &str)> = of_kind(&objects, "Service")
        .iter()
        .filter_map(|s| {
            Some((
                s.pointer("/metadata/name")?.as_str()?,
                s.pointer("/spec/selector/app")?.as_str()?,
                s.pointer("/spec/ports/0/targetPort")?.as_str()?,
            ))
        })
        .collect();
    assert_eq!(
        services,
        [
            ("source-controller", "source-controller", "http"),
            ("notification-controller", "notification-controller", "http"),
            (
                "webhook-receiver",
                "notification-controller",
                "http-webhook"
            ),
        ]
    );
}

#[test]
fn rbac_and_policies_carry_flux_names_suffixed_with_the_namespace() {
    let objects = install_objects();
    let names = |kind: &str| -> Vec<String> {
        of_kind(&objects, kind)
            .iter()
            .filter_map(|o| Some(o.pointer("/metadata/name")?.as_str()?.to_owned()))
            .collect()
    };
    assert_eq!(
        names("ClusterRole"),
        [
            "crd-controller-flux-system",
            "flux-edit-flux-system",
            "flux-view-flux-system"
        ]
    );
    assert_eq!(
        names("ClusterRoleBinding"),
        [
            "crd-controller-flux-system",
            "cluster-reconciler-flux-system"
        ]
    );
    assert_eq!(
        names("NetworkPolicy"),
        ["allow-egress", "allow-scraping", "allow-webhooks"]
    );
    assert_eq!(names("ServiceAccount").len(), CONTROLLERS.len());
    assert_eq!(names("Namespace"), ["flux-system"]);
    let reconciler = of_kind(&objects, "ClusterRoleBinding")[1];
    assert_eq!(reconciler["roleRef"]["name"], "cluster-admin");
    let subjects: Vec<&str> = reconciler["subjects"]
        .as_array()
        .expect("subjects")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(subjects, ["kustomize-controller", "helm-controller"]);
}

#[test]
fn the_install_carries_every_crd() {
    let objects = install_objects();
    assert_eq!(
        of_kind(&objects, "CustomResourceDefinition").len(),
        driftless_api::crds().len()
    );
}

#[test]
fn another_namespace_moves_every_namespaced_object_and_renames_cluster_roles() {
    let install = Install {
        namespace: "gitops".to_owned(),
        ..Install::default()
    };
    let objects = install.objects().expect("renders");
    assert!(
        !serde_json::to_string(&objects)
            .expect("json")
            .contains("flux-system")
    );
    assert!(
        objects
            .iter()
            .any(|o| o["metadata"]["name"] == "crd-controller-gitops")
    );
}

#[test]
fn the_install_yaml_parses_back_into_the_same_objects() {
    let install = Install::default();
    let text = install.to_yaml().expect("renders");
    assert!(text.starts_with("# This manifest was generated by driftless. DO NOT EDIT.\n"));
    let parsed: Vec<Value> = serde_saphyr::from_multiple(&text).expect("parses");
    assert_eq!(parsed, install.objects().expect("renders"));
}

#[test]
fn crd_files_are_named_group_underscore_plural() {
    let names: Vec<String> = driftless_api::crds().iter().map(crd_file_name).collect();
    assert!(names.contains(&"source.toolkit.fluxcd.io_gitrepositories.yaml".to_owned()));
    assert!(names.contains(&"helm.toolkit.fluxcd.io_helmreleases.yaml".to_owned()));
}

#[test]
fn every_deployment_starts_a_driftless_subcommand_that_accepts_its_args() {
    use clap::Parser as _;
    let objects = install_objects();
    let deployments = of_kind(&objects, "Deployment");
    assert_eq!(deployments.len(), CONTROLLERS.len());
    for deployment in deployments {
        let args: Vec<&str> = deployment
            .pointer("/spec/template/spec/containers/0/args")
            .and_then(Value::as_array)
            .expect("the container has args")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let parsed = crate::cli::Cli::try_parse_from(
            std::iter::once("driftless").chain(args.iter().copied()),
        );
        assert!(
            parsed.is_ok(),
            "{}: {args:?} do not parse: {}",
            deployment["metadata"]["name"],
            parsed.err().map(|e| e.to_string()).unwrap_or_default()
        );
    }
}
