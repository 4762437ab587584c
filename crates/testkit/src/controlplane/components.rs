//! The component processes of the local control plane and their flags.
//!
//! Everything listens on loopback only. Ports are offsets from one base port so
//! a second cluster (or a test of the "port taken" error) just picks another base.

use std::path::{Path, PathBuf};

use crate::pki::Pki;

/// Default base port; `DRIFTLESS_CLUSTER_PORT_BASE` overrides it.
pub const DEFAULT_PORT_BASE: u16 = 17000;

/// Ports of one control plane, all derived from its base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub etcd_client: u16,
    pub etcd_peer: u16,
    pub apiserver: u16,
    pub kwok: u16,
}

impl Ports {
    pub fn from_base(base: u16) -> Self {
        Self {
            etcd_client: base,
            etcd_peer: base.saturating_add(1),
            apiserver: base.saturating_add(2),
            kwok: base.saturating_add(3),
        }
    }

    /// Every port with the component that binds it, for the "port taken" check.
    pub fn all(&self) -> [(u16, &'static str); 4] {
        [
            (self.etcd_client, "etcd (client)"),
            (self.etcd_peer, "etcd (peer)"),
            (self.apiserver, "kube-apiserver"),
            (self.kwok, "kwok"),
        ]
    }
}

/// Binaries the components run, resolved from the tool cache.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub etcd: PathBuf,
    pub apiserver: PathBuf,
    pub controller_manager: PathBuf,
    pub scheduler: PathBuf,
    pub kubectl: PathBuf,
    pub kwok: PathBuf,
    /// kwok's lifecycle Stage files, joined into its `--config`.
    pub kwok_stages: Vec<PathBuf>,
}

/// Everything needed to compute component command lines.
#[derive(Debug, Clone)]
pub struct Layout<'a> {
    pub state_dir: &'a Path,
    pub pki: &'a Pki,
    pub ports: Ports,
    pub kubeconfig: &'a Path,
    pub kwok_config: &'a Path,
}

/// File names of the component executables (after `rename` in tools.toml).
pub const EXECUTABLES: [&str; 5] = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
];

/// One component: its name (also the log file name), binary and flags.
#[derive(Debug, Clone)]
pub struct Component {
    pub name: &'static str,
    pub binary: PathBuf,
    pub args: Vec<String>,
}

/// Controllers kube-controller-manager runs: the ones tests rely on (namespace
/// finalization, ownerReference GC, workloads reaching Ready, service-account
/// tokens, aggregated ClusterRoles) and nothing that needs a cloud or kubelets.
const CONTROLLERS: &[&str] = &[
    "namespace-controller",
    "garbage-collector-controller",
    // Lifts the not-ready taint the API server puts on new nodes once kwok
    // reports them Ready; without it nothing ever schedules.
    "node-lifecycle-controller",
    "deployment-controller",
    "replicaset-controller",
    "statefulset-controller",
    "daemonset-controller",
    "job-controller",
    "cronjob-controller",
    "ttl-after-finished-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "root-ca-certificate-publisher-controller",
    "clusterrole-aggregation-controller",
    "endpoints-controller",
    "endpointslice-controller",
    "disruption-controller",
    "pod-garbage-collector-controller",
];

fn flag(name: &str, value: impl AsRef<Path>) -> String {
    format!("--{name}={}", value.as_ref().display())
}

/// The components in start order.
pub fn components(bins: &Binaries, l: &Layout<'_>) -> Vec<Component> {
    let etcd_client = format!("http://127.0.0.1:{}", l.ports.etcd_client);
    let etcd_peer = format!("http://127.0.0.1:{}", l.ports.etcd_peer);
    vec![
        Component {
            name: "etcd",
            binary: bins.etcd.clone(),
            args: vec![
                "--name=driftless".into(),
                flag("data-dir", l.state_dir.join("etcd")),
                flag("listen-client-urls", &etcd_client),
                flag("advertise-client-urls", &etcd_client),
                flag("listen-peer-urls", &etcd_peer),
                flag("initial-advertise-peer-urls", &etcd_peer),
                format!("--initial-cluster=driftless={etcd_peer}"),
                // A throw-away test store: durability is not worth the fsync latency.
                "--unsafe-no-fsync=true".into(),
                "--log-level=warn".into(),
            ],
        },
        Component {
            name: "kube-apiserver",
            binary: bins.apiserver.clone(),
            args: vec![
                flag("etcd-servers", &etcd_client),
                "--bind-address=127.0.0.1".into(),
                "--advertise-address=127.0.0.1".into(),
                // The endpoint reconciler refuses loopback addresses; no pod
                // really runs here, so the kubernetes Service needs no endpoints.
                "--endpoint-reconciler-type=none".into(),
                format!("--secure-port={}", l.ports.apiserver),
                flag("cert-dir", l.state_dir.join("apiserver-certs")),
                flag("tls-cert-file", &l.pki.serving_cert),
                flag("tls-private-key-file", &l.pki.serving_key),
                flag("client-ca-file", &l.pki.ca_cert),
                flag("service-account-key-file", &l.pki.service_account_pub),
                flag(
                    "service-account-signing-key-file",
                    &l.pki.service_account_key,
                ),
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
                "--service-cluster-ip-range=10.0.0.0/24".into(),
                // RBAC on: impersonation and least-privilege tests need real authorization.
                "--authorization-mode=RBAC".into(),
                "--allow-privileged=true".into(),
                "--v=1".into(),
            ],
        },
        Component {
            name: "kube-controller-manager",
            binary: bins.controller_manager.clone(),
            args: vec![
                flag("kubeconfig", l.kubeconfig),
                flag("controllers", CONTROLLERS.join(",")),
                flag(
                    "service-account-private-key-file",
                    &l.pki.service_account_key,
                ),
                flag("root-ca-file", &l.pki.ca_cert),
                "--use-service-account-credentials=false".into(),
                "--leader-elect=false".into(),
                "--secure-port=0".into(),
                // Tests create and delete namespaces quickly; sync them promptly.
                "--concurrent-namespace-syncs=5".into(),
                "--concurrent-gc-syncs=5".into(),
                // Its defaults (20 QPS, 5 Deployment and ReplicaSet workers) would pace every
                // Deployment's rollout status behind a queue: benchmarks applying a thousand of
                // them would measure this component, not the controllers under test.
                "--kube-api-qps=200".into(),
                "--kube-api-burst=400".into(),
                "--concurrent-deployment-syncs=20".into(),
                "--concurrent-replicaset-syncs=20".into(),
                "--v=1".into(),
            ],
        },
        Component {
            name: "kube-scheduler",
            binary: bins.scheduler.clone(),
            args: vec![
                flag("kubeconfig", l.kubeconfig),
                "--leader-elect=false".into(),
                "--secure-port=0".into(),
                "--v=1".into(),
            ],
        },
        Component {
            name: "kwok",
            binary: bins.kwok.clone(),
            args: vec![
                flag("kubeconfig", l.kubeconfig),
                flag("config", l.kwok_config),
                "--manage-all-nodes=false".into(),
                format!(
                    "--manage-nodes-with-annotation-selector={}=fake",
                    super::nodes::KWOK_ANNOTATION
                ),
                "--node-lease-duration-seconds=40".into(),
                "--cidr=10.244.0.0/16".into(),
                "--node-ip=10.244.255.1".into(),
                format!("--server-address=127.0.0.1:{}", l.ports.kwok),
            ],
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_port_derives_from_the_base_and_none_collide() {
        let ports = Ports::from_base(20000);
        let mut all: Vec<u16> = ports.all().iter().map(|(p, _)| *p).collect();
        assert_eq!(all[0], 20000);
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 4);
    }

    #[test]
    fn components_start_with_etcd_and_the_api_server_talks_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::layout(dir.path());
        let bins = Binaries {
            etcd: "etcd".into(),
            apiserver: "kube-apiserver".into(),
            controller_manager: "kcm".into(),
            scheduler: "sched".into(),
            kubectl: "kubectl".into(),
            kwok: "kwok".into(),
            kwok_stages: vec![],
        };
        let kubeconfig = dir.path().join("kubeconfig");
        let kwok_config = dir.path().join("kwok.yaml");
        let layout = Layout {
            state_dir: dir.path(),
            pki: &pki,
            ports: Ports::from_base(17000),
            kubeconfig: &kubeconfig,
            kwok_config: &kwok_config,
        };
        let comps = components(&bins, &layout);
        let names: Vec<&str> = comps.iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            [
                "etcd",
                "kube-apiserver",
                "kube-controller-manager",
                "kube-scheduler",
                "kwok"
            ]
        );
        assert!(
            comps[1]
                .args
                .contains(&"--etcd-servers=http://127.0.0.1:17000".to_string())
        );
        assert!(comps[1].args.contains(&"--secure-port=17002".to_string()));
        assert!(
            comps[2]
                .args
                .iter()
                .any(|a| a.contains("garbage-collector-controller"))
        );
    }
}
