//! `cargo xtask demo`: the main job. Today the controllers do not exist yet, so
//! the demo brings up the local control plane and says what it will do once
//! they do; it grows with every controller issue.

use testkit::ControlPlane;

pub async fn run() -> anyhow::Result<()> {
    let plane = ControlPlane::from_env();
    plane.up().await?;
    let client = plane.client().await?;
    let version = client.apiserver_version().await?;
    eprintln!(
        "local control plane is up: Kubernetes {}.{} ({}) with {} kwok nodes",
        version.major,
        version.minor,
        version.git_version,
        testkit::controlplane::NODE_COUNT
    );
    eprintln!(
        "next (not built yet): install the Flux CRDs, start driftless source-controller and \
         kustomize-controller against this cluster, serve a Git repository on loopback, and \
         apply a GitRepository + Kustomization so the cluster follows that repository."
    );
    eprintln!("stop it with `cargo xtask cluster down`; talk to it with:");
    println!("{}", plane.export_line());
    Ok(())
}
