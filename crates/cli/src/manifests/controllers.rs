//! What differs between the six controller Deployments, as data.
//!
//! The values are the ones Flux's own manifests give each controller (its `config/manager`
//! Deployment plus the patches `flux install` applies), so that dashboards, `flux check`, network
//! policies and user patches that target them by name or port keep working.

use driftless_api::crd::component;

/// A named container port.
#[derive(Debug, Clone, Copy)]
pub struct Port {
    pub name: &'static str,
    pub number: i32,
}

/// Prometheus scrapes this port (`--metrics-addr=:8080`); Flux's PodMonitor selects it by name.
pub const HTTP_PROM: Port = Port {
    name: "http-prom",
    number: 8080,
};
/// `/healthz` and `/readyz` (`--health-addr=:9440`).
pub const HEALTHZ: Port = Port {
    name: "healthz",
    number: 9440,
};
/// source-controller's artifact server and notification-controller's event receiver.
pub const HTTP: Port = Port {
    name: "http",
    number: 9090,
};
/// notification-controller's Receiver webhooks (`--receiverAddr=:9292`).
pub const HTTP_WEBHOOK: Port = Port {
    name: "http-webhook",
    number: 9292,
};

/// An emptyDir volume and where the container mounts it.
#[derive(Debug, Clone, Copy)]
pub struct Volume {
    pub name: &'static str,
    pub mount_path: &'static str,
}

/// One controller Deployment.
#[derive(Debug, Clone, Copy)]
pub struct Controller {
    /// Deployment, ServiceAccount, container subcommand and `app` label.
    pub name: &'static str,
    /// Whether it posts events to notification-controller (every controller but the receiver).
    pub sends_events: bool,
    /// Flags after the ones every controller gets.
    pub extra_args: &'static [&'static str],
    pub ports: &'static [Port],
    /// Port name and path of the readiness probe.
    pub readiness: (&'static str, &'static str),
    pub termination_grace_seconds: i64,
    pub cpu_request: &'static str,
    pub volumes: &'static [Volume],
    /// Two source-controller pods must never share (or fight over) one artifact store.
    pub recreate: bool,
    /// Runs with `priorityClassName: system-cluster-critical`.
    pub critical: bool,
    /// Bound to cluster-admin by `cluster-reconciler` because it applies arbitrary objects.
    pub cluster_reconciler: bool,
}

const TEMP: &[Volume] = &[Volume {
    name: "temp",
    mount_path: "/tmp",
}];

const READYZ: (&str, &str) = ("healthz", "/readyz");

/// Every controller, in the order Flux lists its components.
pub const CONTROLLERS: [Controller; 6] = [
    Controller {
        name: component::SOURCE_CONTROLLER,
        sends_events: true,
        extra_args: &[
            "--storage-path=/data",
            "--storage-adv-addr=source-controller.$(RUNTIME_NAMESPACE).svc.cluster.local.",
        ],
        ports: &[HTTP, HTTP_PROM, HEALTHZ],
        // Ready once the artifact server answers, not merely once the process runs.
        readiness: ("http", "/"),
        termination_grace_seconds: 10,
        cpu_request: "50m",
        volumes: &[
            Volume {
                name: "data",
                mount_path: "/data",
            },
            Volume {
                name: "tmp",
                mount_path: "/tmp",
            },
        ],
        recreate: true,
        critical: true,
        cluster_reconciler: false,
    },
    Controller {
        name: component::KUSTOMIZE_CONTROLLER,
        sends_events: true,
        extra_args: &[],
        ports: &[HTTP_PROM, HEALTHZ],
        readiness: READYZ,
        // Lets an in-flight apply finish before the pod goes.
        termination_grace_seconds: 60,
        cpu_request: "100m",
        volumes: TEMP,
        recreate: false,
        critical: true,
        cluster_reconciler: true,
    },
    Controller {
        name: component::HELM_CONTROLLER,
        sends_events: true,
        extra_args: &[],
        ports: &[HTTP_PROM, HEALTHZ],
        readiness: READYZ,
        // A Helm action interrupted midway leaves a release stuck in pending-*.
        termination_grace_seconds: 600,
        cpu_request: "100m",
        volumes: TEMP,
        recreate: false,
        critical: true,
        cluster_reconciler: true,
    },
    Controller {
        name: component::NOTIFICATION_CONTROLLER,
        sends_events: false,
        extra_args: &[],
        ports: &[HTTP, HTTP_WEBHOOK, HTTP_PROM, HEALTHZ],
        readiness: READYZ,
        termination_grace_seconds: 10,
        cpu_request: "100m",
        volumes: TEMP,
        recreate: false,
        critical: false,
        cluster_reconciler: false,
    },
    Controller {
        name: component::IMAGE_REFLECTOR_CONTROLLER,
        sends_events: true,
        extra_args: &[],
        ports: &[HTTP_PROM, HEALTHZ],
        readiness: READYZ,
        termination_grace_seconds: 10,
        cpu_request: "100m",
        volumes: &[
            Volume {
                name: "temp",
                mount_path: "/tmp",
            },
            Volume {
                name: "data",
                mount_path: "/data",
            },
        ],
        recreate: false,
        critical: false,
        cluster_reconciler: false,
    },
    Controller {
        name: component::IMAGE_AUTOMATION_CONTROLLER,
        sends_events: true,
        extra_args: &[],
        ports: &[HTTP_PROM, HEALTHZ],
        readiness: READYZ,
        termination_grace_seconds: 10,
        cpu_request: "100m",
        volumes: TEMP,
        recreate: false,
        critical: false,
        cluster_reconciler: false,
    },
];

/// A Service in front of a controller port.
#[derive(Debug, Clone, Copy)]
pub struct ServiceSpec {
    pub name: &'static str,
    pub controller: &'static str,
    pub target_port: &'static str,
}

/// The Services Flux installs; each listens on port 80 and is named for what clients call it.
pub const SERVICES: [ServiceSpec; 3] = [
    ServiceSpec {
        name: component::SOURCE_CONTROLLER,
        controller: component::SOURCE_CONTROLLER,
        target_port: HTTP.name,
    },
    ServiceSpec {
        name: component::NOTIFICATION_CONTROLLER,
        controller: component::NOTIFICATION_CONTROLLER,
        target_port: HTTP.name,
    },
    ServiceSpec {
        name: "webhook-receiver",
        controller: component::NOTIFICATION_CONTROLLER,
        target_port: HTTP_WEBHOOK.name,
    },
];
