//! `cargo xtask demo`: the main job. It brings up the local control plane, installs driftless's
//! CRDs, serves the demo fleet (`examples/fleet`) as a real Git repository on loopback, runs
//! `driftless source-controller` and `driftless kustomize-controller` as processes, applies the
//! Flux objects of `examples/cluster` (a GitRepository and two layered Kustomizations, one with a
//! SOPS-encrypted Secret and postBuild variables), shows progress until everything is Ready,
//! prints what it manages, pushes a commit and shows it land, then tells the user how to push
//! their own change and keeps the controllers running until Ctrl-C (or exits with `--exit`).

mod processes;
mod progress;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::{Value, json};
use testkit::ControlPlane;
use testkit::git_server::{GitAuth, GitServer};

use processes::NAMESPACE;

const FIELD_MANAGER: &str = "driftless-demo";

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// Every file under `root` as (relative path, contents), sorted.
fn read_tree(root: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(root)?.to_string_lossy().into_owned();
                files.push((rel, std::fs::read_to_string(&path)?));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Server-side applies one manifest (any kind whose plural is the lower-cased kind + "s").
async fn apply(client: &kube::Client, manifest: &Value) -> anyhow::Result<()> {
    let api_version = manifest["apiVersion"].as_str().context("apiVersion")?;
    let kind = manifest["kind"].as_str().context("kind")?;
    let name = manifest["metadata"]["name"]
        .as_str()
        .context("metadata.name")?;
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    let api: Api<DynamicObject> = match manifest["metadata"]["namespace"].as_str() {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    api.patch(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(manifest),
    )
    .await
    .with_context(|| format!("applying {kind}/{name}"))?;
    Ok(())
}

/// The cluster side of the demo: namespace, the SOPS key Secret, the GitRepository pointing at
/// `url`, and every manifest in examples/cluster.
async fn apply_cluster(client: &kube::Client, url: &str) -> anyhow::Result<()> {
    let examples = examples_dir();
    let age_key = std::fs::read_to_string(examples.join("keys/demo.agekey"))?;
    let mut manifests = vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}),
        json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "sops-age", "namespace": NAMESPACE},
            "stringData": {"demo.agekey": age_key}}),
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "fleet", "namespace": NAMESPACE},
            "spec": {"interval": "1m", "url": url, "ref": {"branch": "main"}}}),
    ];
    for (path, text) in read_tree(&examples.join("cluster"))? {
        let value: Value = serde_saphyr::from_str(&text)
            .with_context(|| format!("parsing examples/cluster/{path}"))?;
        manifests.push(value);
    }
    for manifest in &manifests {
        apply(client, manifest).await?;
    }
    Ok(())
}

pub async fn run(exit: bool) -> anyhow::Result<()> {
    let plane = ControlPlane::from_env();
    plane.up().await?;
    let client = plane.client().await?;
    let version = client.apiserver_version().await?;
    eprintln!(
        "==> local control plane up: Kubernetes {}",
        version.git_version
    );
    for crd in driftless_api::crds() {
        testkit::install_crd(&client, &crd, FIELD_MANAGER).await?;
    }
    eprintln!(
        "==> {} driftless CRDs installed (Flux's API groups and versions)",
        driftless_api::crds().len()
    );

    let git = GitServer::start(GitAuth::None).await?;
    let repo = git.create_repo("fleet")?;
    let fleet = read_tree(&examples_dir().join("fleet"))?;
    let files: Vec<(&str, &str)> = fleet
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    repo.commit_files("main", &files, "Demo fleet: infrastructure and apps")?;
    eprintln!(
        "==> serving examples/fleet as a Git repository at {}",
        git.url("fleet")
    );

    let binary = processes::build_driftless()?;
    let storage = processes::storage_dir(&plane)?;
    let storage_port = processes::free_port()?;
    let source = processes::start(
        &plane,
        &binary,
        "source-controller",
        &[
            format!("--storage-path={}", storage.display()),
            format!("--storage-addr=127.0.0.1:{storage_port}"),
            format!("--storage-adv-addr=127.0.0.1:{storage_port}"),
        ],
    )?;
    let kustomize = processes::start(&plane, &binary, "kustomize-controller", &[])?;
    eprintln!(
        "==> driftless source-controller and kustomize-controller running (logs: {}, {})",
        source.log.display(),
        kustomize.log.display()
    );

    apply_cluster(&client, &git.url("fleet")).await?;
    eprintln!("==> applied GitRepository fleet and Kustomizations infrastructure, apps:");
    let started = Instant::now();
    progress::until_ready(&client, &[&source.log, &kustomize.log]).await?;
    eprintln!(
        "==> all Ready in {:.1}s; driftless manages:",
        started.elapsed().as_secs_f64()
    );
    progress::print_managed(&client).await?;

    let deployment = examples_dir().join("fleet/apps/podinfo/deployment.yaml");
    let changed = std::fs::read_to_string(&deployment)?.replace("podinfo:6.7.0", "podinfo:6.7.1");
    let pushed = Instant::now();
    repo.commit_files(
        "main",
        &[("apps/podinfo/deployment.yaml", &changed)],
        "podinfo 6.7.1",
    )?;
    request_reconcile(&client).await?;
    eprintln!(
        "==> pushed a commit (podinfo 6.7.0 -> 6.7.1) and requested a reconcile of the source"
    );
    wait_image(&client, "ghcr.io/stefanprodan/podinfo:6.7.1").await?;
    eprintln!(
        "==> the cluster followed Git in {:.1}s: deployment/podinfo runs podinfo:6.7.1",
        pushed.elapsed().as_secs_f64()
    );

    let kubectl = plane.bin_dir().join("kubectl");
    println!("{}", plane.export_line());
    eprintln!(
        "\nPush your own change: the fleet is a real Git repository.\n\
         \x20 git clone {bare} fleet && cd fleet\n\
         \x20 # edit apps/podinfo/deployment.yaml, then\n\
         \x20 git commit -am 'my change' && git push\n\
         \x20 {kubectl} -n flux-system annotate gitrepository/fleet --overwrite reconcile.fluxcd.io/requestedAt=\"$(date +%s)\"\n\
         \x20 {kubectl} -n flux-system get kustomizations -w   # (or wait for the 1m interval)\n\
         (with the export line above in your shell). The control plane stays up after the demo; \
         `cargo xtask cluster down` stops it.",
        bare = git.repo_path("fleet").display(),
        kubectl = kubectl.display(),
    );
    if !exit {
        eprintln!("==> controllers running; press Ctrl-C to stop them");
        tokio::signal::ctrl_c().await?;
    }
    drop((source, kustomize));
    Ok(())
}

/// Sets `reconcile.fluxcd.io/requestedAt` on the GitRepository, as `flux reconcile source git`.
async fn request_reconcile(client: &kube::Client) -> anyhow::Result<()> {
    let api: Api<driftless_api::source::GitRepository> = Api::namespaced(client.clone(), NAMESPACE);
    let token = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos()
        .to_string();
    let annotate = json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}});
    api.patch("fleet", &PatchParams::default(), &Patch::Merge(&annotate))
        .await?;
    Ok(())
}

/// Waits until deployment demo/podinfo runs `image`.
async fn wait_image(client: &kube::Client, image: &str) -> anyhow::Result<()> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), "demo");
    testkit::wait::until(
        Duration::from_secs(120),
        "podinfo to run the new image",
        || async {
            let deployment = api.get("podinfo").await.map_err(|e| e.to_string())?;
            let current = deployment
                .spec
                .template
                .spec
                .and_then(|s| s.containers.first().and_then(|c| c.image.clone()))
                .unwrap_or_default();
            if current == image {
                Ok(Some(()))
            } else {
                Err(format!("image is {current}"))
            }
        },
    )
    .await
    .map_err(anyhow::Error::msg)
}
