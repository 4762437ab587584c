//! ServiceAccount, Deployment and Services of each controller.

use serde_json::{Value, json};

use super::Install;
use super::controllers::{Controller, SERVICES};

/// `control-plane: controller` marks Flux's controller Deployments and Services; some
/// monitoring setups select on it.
const CONTROL_PLANE: (&str, &str) = ("control-plane", "controller");

/// The identity a controller runs as, named after it.
pub fn service_account(install: &Install, controller: &Controller) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": controller.name,
            "namespace": install.namespace,
            "labels": install.labels(Some(controller.name)),
        },
    })
}

/// The controller's Deployment: one replica of the driftless image running the controller as a
/// subcommand with the flags Flux's manifests pass.
pub fn deployment(install: &Install, controller: &Controller) -> Value {
    let mut labels = install.labels(Some(controller.name));
    labels.insert(CONTROL_PLANE.0.to_owned(), json!(CONTROL_PLANE.1));
    let mut pod_labels = install.labels(Some(controller.name));
    pod_labels.insert("app".to_owned(), json!(controller.name));

    let mut spec = json!({
        "replicas": 1,
        "selector": {"matchLabels": {"app": controller.name}},
        "template": {
            "metadata": {
                "labels": pod_labels,
                "annotations": {
                    "prometheus.io/scrape": "true",
                    "prometheus.io/port": super::controllers::HTTP_PROM.number.to_string(),
                },
            },
            "spec": pod_spec(install, controller),
        },
    });
    if controller.recreate {
        spec["strategy"] = json!({"type": "Recreate"});
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": controller.name,
            "namespace": install.namespace,
            "labels": labels,
        },
        "spec": spec,
    })
}

fn pod_spec(install: &Install, controller: &Controller) -> Value {
    let mut spec = json!({
        "serviceAccountName": controller.name,
        "terminationGracePeriodSeconds": controller.termination_grace_seconds,
        "nodeSelector": {"kubernetes.io/os": "linux"},
        // fsGroup 1337 is what cloud workload-identity token mounts expect of Flux pods.
        "securityContext": {"fsGroup": 1337},
        "containers": [container(install, controller)],
        "volumes": controller
            .volumes
            .iter()
            .map(|v| json!({"name": v.name, "emptyDir": {}}))
            .collect::<Vec<_>>(),
    });
    if controller.critical {
        spec["priorityClassName"] = json!("system-cluster-critical");
    }
    spec
}

/// The container is called `manager`, as in Flux, because patches and `flux` commands address it
/// by that name.
fn container(install: &Install, controller: &Controller) -> Value {
    json!({
        "name": "manager",
        "image": install.image(),
        "imagePullPolicy": "IfNotPresent",
        "args": args(install, controller),
        "env": [{
            "name": "RUNTIME_NAMESPACE",
            "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
        }],
        "ports": controller
            .ports
            .iter()
            .map(|p| json!({"name": p.name, "containerPort": p.number, "protocol": "TCP"}))
            .collect::<Vec<_>>(),
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "healthz"}},
        "readinessProbe": {
            "httpGet": {"path": controller.readiness.1, "port": controller.readiness.0},
        },
        "resources": {
            "limits": {"cpu": "1000m", "memory": "1Gi"},
            "requests": {"cpu": controller.cpu_request, "memory": "64Mi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": true,
            "runAsNonRoot": true,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": controller
            .volumes
            .iter()
            .map(|v| json!({"name": v.name, "mountPath": v.mount_path}))
            .collect::<Vec<_>>(),
    })
}

/// `<controller> <flags…>`: the subcommand first, then the flags in the order Flux passes them.
pub fn args(install: &Install, controller: &Controller) -> Vec<String> {
    let mut args = vec![controller.name.to_owned()];
    if controller.sends_events {
        args.push(format!(
            "--events-addr=http://notification-controller.{}.svc.cluster.local./",
            install.namespace
        ));
    }
    args.extend(
        [
            "--watch-all-namespaces=true",
            "--log-level=info",
            "--log-encoding=json",
            "--enable-leader-election",
        ]
        .map(str::to_owned),
    );
    args.extend(controller.extra_args.iter().map(|a| (*a).to_owned()));
    args
}

/// source-controller's artifact Service, notification-controller's event Service and the
/// `webhook-receiver` Service for Receivers, each on port 80.
pub fn services(install: &Install) -> Vec<Value> {
    SERVICES
        .iter()
        .map(|service| {
            let mut labels = install.labels(Some(service.controller));
            labels.insert(CONTROL_PLANE.0.to_owned(), json!(CONTROL_PLANE.1));
            json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": service.name,
                    "namespace": install.namespace,
                    "labels": labels,
                },
                "spec": {
                    "type": "ClusterIP",
                    "selector": {"app": service.controller},
                    "ports": [{
                        "name": "http",
                        "port": 80,
                        "protocol": "TCP",
                        "targetPort": service.target_port,
                    }],
                },
            })
        })
        .collect()
}
