//! The upstream `flux` CLI (v2.9.5) against driftless controllers for the kinds beyond
//! GitRepository and Kustomization: HelmRepository, HelmChart, HelmRelease, OCIRepository and
//! Bucket; ImageRepository, ImagePolicy and ImageUpdateAutomation; Provider, Alert and Receiver.
//! Objects are created with `flux create`, which waits with Flux's own readiness rules, then
//! listed, reconciled, suspended, resumed and exported with flux, and every output is asserted:
//! a status field, condition or event flux reads differently from what driftless writes fails
//! here.
//!
//! The controllers run in-process on the test's shard (the namespace name), against the
//! loopback Helm repository, OCI registry, S3 and git servers testkit provides.

#[allow(unused_imports)]
#[path = "../../source-controller/tests/common/mod.rs"]
mod sc;
mod upstream_common;

use std::time::Duration;

use kube::api::Api;
use testkit::git_server::{GitAuth, GitServer};
use testkit::helm_repo::HelmRepoServer;
use testkit::oci_registry::{OciRegistry, RegistryAuth};
use testkit::s3_server::S3Server;
use upstream_common::{Flux, SHARD_LABEL, has_event, row, row_with};

/// How long any wait on the cluster may take.
const WAIT: Duration = Duration::from_secs(90);

/// A one-template chart: a ConfigMap carrying the chart version.
fn chart(version: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "Chart.yaml",
            format!("apiVersion: v2\nname: demo\nversion: {version}\nappVersion: \"{version}\"\n"),
        ),
        ("values.yaml", "greeting: hello\n".to_owned()),
        (
            "templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cfg\ndata:\n  \
             version: {{ .Chart.Version | quote }}\n  greeting: {{ .Values.greeting | quote }}\n"
                .to_owned(),
        ),
    ]
}

fn publish(repo: &HelmRepoServer, version: &str) {
    let files = chart(version);
    let files: Vec<(&str, &str)> = files.iter().map(|(p, c)| (*p, c.as_str())).collect();
    repo.add_chart("demo", version, &files).expect("chart");
}

/// Waits until nothing of `kind` (a `flux get` kind, e.g. `sources all`) is left in `ns`.
async fn wait_none_left(flux: &Flux, what: &str, ns: &str) {
    testkit::wait::until(WAIT, &format!("no {what} left in {ns}"), || async move {
        let (success, out, err) = flux.run(&format!("get {what} -n {ns} --no-header")).await;
        if !success && !err.contains("no ") {
            return Err(err);
        }
        Ok(out.trim().is_empty().then_some(()))
    })
    .await
    .expect("everything deleted");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_upstream_flux_cli_drives_helm_oci_and_bucket_sources_and_a_helm_release() {
    let cluster = testkit::cluster().await.expect("cluster");
    upstream_common::install_all_crds(&cluster.client)
        .await
        .expect("crds");
    let ns_guard = testkit::TestNamespace::create(&cluster, "flux-cli-helm")
        .await
        .expect("ns");
    let ns = ns_guard.name().to_owned();
    let flux = Flux::new(cluster.plane.kubeconfig_path());
    let label = format!("--label={SHARD_LABEL}={ns}");

    let charts = HelmRepoServer::start(None).await.expect("helm repo");
    publish(&charts, "0.1.0");
    let registry = OciRegistry::start(RegistryAuth::None)
        .await
        .expect("registry");
    let layer =
        testkit::oci_registry::tar_gz(&[("app/cm.yaml", b"kind: ConfigMap\n")]).expect("tar.gz");
    let pushed = registry.push_artifact("manifests", "v1", layer, "https://example.org/app", "v1");
    let s3 = S3Server::start(None).await.expect("s3");
    s3.put_object("files", "app/cm.yaml", "kind: ConfigMap\n");

    let sources = sc::RunningController::start(&cluster, &ns)
        .await
        .expect("source-controller");
    let helm = upstream_common::helm_controller(&cluster, &ns)
        .await
        .expect("helm-controller");

    // flux create waits for each object with Flux's readiness rules and prints its revision.
    let (_, err) = flux
        .ok(&format!(
            "create source helm charts --url={} --interval=10m {label} -n {ns} --timeout=60s",
            charts.url()
        ))
        .await;
    assert!(
        err.contains("✔ HelmRepository source reconciliation completed\n"),
        "{err}"
    );
    assert!(err.contains("✔ fetched revision: sha256:"), "{err}");
    let (_, err) = flux
        .ok(&format!(
            "create source chart demo --source=HelmRepository/charts --chart=demo \
             --chart-version=0.1.x --interval=10m {label} -n {ns} --timeout=60s"
        ))
        .await;
    assert!(err.ends_with("✔ fetched revision: 0.1.0\n"), "{err}");
    let (_, err) = flux
        .ok(&format!(
            "create helmrelease demo --chart-ref=HelmChart/demo --interval=10m {label} -n {ns} \
             --timeout=90s"
        ))
        .await;
    assert!(err.contains("✔ HelmRelease demo is ready\n"), "{err}");
    assert!(err.ends_with("✔ applied revision 0.1.0\n"), "{err}");
    // The usual shape, a chart template: flux writes it, and the test adds the shard label to
    // the template so that this test's source-controller picks up the HelmChart
    // `<ns>-web` helm-controller creates from it.
    let (yaml, _) = flux
        .ok(&format!(
            "create helmrelease web --source=HelmRepository/charts --chart=demo \
             --chart-version=0.1.x --interval=10m {label} -n {ns} --export"
        ))
        .await;
    let mut web: serde_json::Value = serde_saphyr::from_str(&yaml).expect("exported HelmRelease");
    web["spec"]["chart"]["metadata"] = serde_json::json!({"labels": {SHARD_LABEL: ns}});
    let releases: Api<driftless_api::helm::HelmRelease> =
        Api::namespaced(cluster.client.clone(), &ns);
    releases
        .create(
            &Default::default(),
            &serde_json::from_value(web).expect("a HelmRelease"),
        )
        .await
        .expect("web created");
    testkit::wait::until(WAIT, "web to be Ready", || async {
        let (_, out, _) = flux.run(&format!("get hr web -n {ns} --no-header")).await;
        Ok(row_with(&out, &["web", "0.1.0", "True"]).map(|_| ()))
    })
    .await
    .expect("web released");
    let (_, err) = flux
        .ok(&format!(
            "create source oci manifests --url={} --tag=v1 --insecure --interval=10m {label} \
             -n {ns} --timeout=60s",
            registry.oci_url("manifests")
        ))
        .await;
    assert!(
        err.ends_with(&format!("✔ fetched revision: v1@{}\n", pushed.digest)),
        "{err}"
    );
    let (_, err) = flux
        .ok(&format!(
            "create source bucket files --bucket-name=files --endpoint={} --insecure \
             --interval=10m {label} -n {ns} --timeout=60s",
            s3.endpoint()
        ))
        .await;
    assert!(
        err.contains("✔ Bucket source reconciliation completed\n"),
        "{err}"
    );
    assert!(err.contains("✔ fetched revision: sha256:"), "{err}");

    // get all -A: every object Ready, with flux's revision column and the controllers' messages.
    let (out, _) = flux.ok("get all -A").await;
    let short = |digest: &str| {
        let hex = digest.trim_start_matches("sha256:");
        format!("sha256:{}", &hex[..8])
    };
    let helm_repo = row(&out, &[&ns, "helmrepository/charts"]);
    assert_eq!(helm_repo[3..5], ["False", "True"], "{out}");
    assert!(helm_repo[2].starts_with("sha256:"), "{out}");
    assert_eq!(
        helm_repo[5],
        format!("stored artifact: revision '{}'", helm_repo[2]),
        "{out}"
    );
    assert_eq!(
        row(&out, &[&ns, "helmchart/demo"]),
        [
            ns.as_str(),
            "helmchart/demo",
            "0.1.0",
            "False",
            "True",
            "pulled 'demo' chart with version '0.1.0'"
        ],
        "{out}"
    );
    let oci_revision = format!("v1@{}", short(&pushed.digest));
    assert_eq!(
        row(&out, &[&ns, "ocirepository/manifests"]),
        [
            ns.as_str(),
            "ocirepository/manifests",
            &oci_revision,
            "False",
            "True",
            &format!("stored artifact for digest '{oci_revision}'"),
        ],
        "{out}"
    );
    let bucket = row(&out, &[&ns, "bucket/files"]);
    assert_eq!(bucket[3..5], ["False", "True"], "{out}");
    assert_eq!(
        bucket[5],
        format!("stored artifact: revision '{}'", bucket[2]),
        "{out}"
    );
    assert_eq!(
        row(&out, &[&ns, "helmrelease/demo"]),
        [
            ns.as_str(),
            "helmrelease/demo",
            "0.1.0",
            "False",
            "True",
            &format!("Helm install succeeded for release {ns}/demo.v1 with chart demo@0.1.0"),
        ],
        "{out}"
    );

    // A plain reconcile runs the release again on the chart it has; --with-source reconciles
    // the chart's source chain first: the new chart version is pulled and released, and each
    // step prints flux's success line.
    publish(&charts, "0.1.1");
    let (_, err) = flux
        .ok(&format!("reconcile hr demo -n {ns} --timeout=90s"))
        .await;
    assert_eq!(
        err,
        format!(
            "► annotating HelmRelease demo in {ns} namespace\n✔ HelmRelease annotated\n\
             ◎ waiting for HelmRelease reconciliation\n✔ applied revision 0.1.0\n"
        )
    );
    let (_, err) = flux
        .ok(&format!(
            "reconcile hr demo --with-source -n {ns} --timeout=90s"
        ))
        .await;
    for line in [
        format!("► annotating HelmRepository charts in {ns} namespace\n"),
        "✔ fetched revision sha256:".to_owned(),
        format!("► annotating HelmChart demo in {ns} namespace\n"),
        "✔ fetched revision 0.1.1\n".to_owned(),
        format!("► annotating HelmRelease demo in {ns} namespace\n"),
        "◎ waiting for HelmRelease reconciliation\n".to_owned(),
    ] {
        assert!(err.contains(&line), "{line:?} in\n{err}");
    }
    assert!(err.ends_with("✔ applied revision 0.1.1\n"), "{err}");
    let (out, _) = flux.ok(&format!("get hr -n {ns} --show-source")).await;
    assert_eq!(
        row(&out, &["demo"]),
        [
            "demo",
            &format!("HelmChart/{ns}/demo"),
            "0.1.1",
            "False",
            "True",
            &format!("Helm upgrade succeeded for release {ns}/demo.v2 with chart demo@0.1.1"),
        ],
        "{out}"
    );

    let (_, err) = flux
        .ok(&format!(
            "reconcile hr web --with-source -n {ns} --timeout=90s"
        ))
        .await;
    for line in [
        format!("► annotating HelmRepository charts in {ns} namespace\n"),
        format!("► annotating HelmChart {ns}-web in {ns} namespace\n"),
        "✔ fetched revision 0.1.1\n".to_owned(),
        format!("► annotating HelmRelease web in {ns} namespace\n"),
    ] {
        assert!(err.contains(&line), "{line:?} in\n{err}");
    }
    assert!(err.ends_with("✔ applied revision 0.1.1\n"), "{err}");
    let (out, _) = flux.ok(&format!("get hr -n {ns} --show-source")).await;
    assert_eq!(
        row(&out, &["web"])[..4],
        [
            "web",
            &format!("HelmRepository/{ns}/charts"),
            "0.1.1",
            "False"
        ],
        "{out}"
    );

    // Each source kind reconciles on request and reports what it fetched.
    let second = registry.push_artifact(
        "manifests",
        "v1",
        testkit::oci_registry::tar_gz(&[("app/cm.yaml", b"kind: ConfigMap\ndata: {}\n")])
            .expect("tar.gz"),
        "https://example.org/app",
        "v1.1",
    );
    let (_, err) = flux
        .ok(&format!(
            "reconcile source oci manifests -n {ns} --timeout=60s"
        ))
        .await;
    assert!(
        err.ends_with(&format!("✔ fetched revision v1@{}\n", second.digest)),
        "{err}"
    );
    s3.put_object("files", "app/extra.yaml", "kind: Secret\n");
    let (_, err) = flux
        .ok(&format!(
            "reconcile source bucket files -n {ns} --timeout=60s"
        ))
        .await;
    assert!(err.contains("✔ fetched revision sha256:"), "{err}");
    let (out, _) = flux.ok(&format!("get source bucket files -n {ns}")).await;
    assert_ne!(
        row(&out, &["files"])[1],
        bucket[2],
        "a new object is a new revision:\n{out}"
    );

    // suspend and resume, on the release and on a source.
    let (_, err) = flux.ok(&format!("suspend hr demo -n {ns}")).await;
    assert_eq!(
        err,
        format!("► suspending helmrelease demo in {ns} namespace\n✔ helmrelease suspended\n")
    );
    let (out, _) = flux.ok(&format!("get hr demo -n {ns}")).await;
    assert_eq!(row(&out, &["demo"])[2], "True", "SUSPENDED column:\n{out}");
    let (success, _, err) = flux.run(&format!("reconcile hr demo -n {ns}")).await;
    assert!(!success, "a suspended release is not reconciled:\n{err}");
    assert!(err.contains("resource is suspended"), "{err}");
    let (_, err) = flux
        .ok(&format!("resume hr demo -n {ns} --timeout=90s"))
        .await;
    assert!(
        err.starts_with(&format!("► resuming helmrelease demo in {ns} namespace\n")),
        "{err}"
    );
    assert!(err.ends_with("✔ applied revision 0.1.1\n"), "{err}");
    let (_, err) = flux
        .ok(&format!("suspend source oci manifests -n {ns}"))
        .await;
    assert_eq!(
        err,
        format!("► suspending source oci manifests in {ns} namespace\n✔ source oci suspended\n")
    );
    let (out, _) = flux.ok(&format!("get sources oci -n {ns}")).await;
    assert_eq!(row(&out, &["manifests"])[2], "True", "{out}");
    let (_, err) = flux
        .ok(&format!(
            "resume source oci manifests -n {ns} --timeout=60s"
        ))
        .await;
    assert!(
        err.ends_with(&format!("✔ fetched revision v1@{}\n", second.digest)),
        "{err}"
    );

    // events of a release: helm-controller's install and upgrade, and its HelmChart's pulls
    // (flux lists the chart's events with the release's). flux cannot list them for a release
    // with a chartRef: it reads spec.chart.spec.sourceRef unconditionally, against Flux too.
    let (out, _) = flux
        .ok(&format!("events --for HelmRelease/web -n {ns}"))
        .await;
    assert!(out.starts_with("LAST SEEN"), "{out}");
    for (reason, object, message) in [
        (
            "InstallSucceeded",
            "HelmRelease/web".to_owned(),
            format!("Helm install succeeded for release {ns}/web.v1 with chart demo@0.1.0"),
        ),
        (
            "UpgradeSucceeded",
            "HelmRelease/web".to_owned(),
            format!("Helm upgrade succeeded for release {ns}/web.v2 with chart demo@0.1.1"),
        ),
        (
            "ChartPullSucceeded",
            format!("HelmChart/{ns}-web"),
            "pulled 'demo' chart with version '0.1.1'".to_owned(),
        ),
    ] {
        assert!(
            has_event(&out, reason, &object, &message),
            "{reason} {object} {message:?} in\n{out}"
        );
    }
    let (success, _, err) = flux
        .run(&format!("events --for HelmRelease/demo -n {ns}"))
        .await;
    assert!(!success, "{err}");
    assert!(
        err.contains("field 'spec.chart.spec.sourceRef.kind'"),
        "{err}"
    );

    // export: what the user wrote, without status.
    let (out, _) = flux.ok(&format!("export hr demo -n {ns}")).await;
    for line in [
        "apiVersion: helm.toolkit.fluxcd.io/v2\n",
        "kind: HelmRelease\n",
        "  chartRef:\n",
        "    kind: HelmChart\n",
    ] {
        assert!(out.contains(line), "{line:?} in\n{out}");
    }
    assert!(!out.contains("status:"), "{out}");
    let (out, _) = flux.ok(&format!("export source chart demo -n {ns}")).await;
    assert!(out.contains("  version: 0.1.x\n"), "{out}");
    let (out, _) = flux
        .ok(&format!("export source bucket files -n {ns}"))
        .await;
    assert!(out.contains("  bucketName: files\n"), "{out}");
    assert!(!out.contains("status:"), "{out}");

    // The release's ConfigMap is what the upgrade rendered.
    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(cluster.client.clone(), &ns);
    let cm = cms.get("demo-cfg").await.expect("release ConfigMap");
    assert_eq!(
        cm.data
            .unwrap_or_default()
            .get("version")
            .map(String::as_str),
        Some("0.1.1")
    );

    // delete with flux; the controllers run the finalizers before they stop.
    let (_, err) = flux.ok(&format!("delete hr demo --silent -n {ns}")).await;
    assert!(err.ends_with("✔ helmrelease deleted\n"), "{err}");
    flux.ok(&format!("delete hr web --silent -n {ns}")).await;
    wait_none_left(&flux, "hr", &ns).await;
    for source in ["chart demo", "helm charts", "oci manifests", "bucket files"] {
        flux.ok(&format!("delete source {source} --silent -n {ns}"))
            .await;
    }
    wait_none_left(&flux, "sources all", &ns).await;
    helm.stop().await.expect("helm-controller stops");
    sources.stop().await.expect("source-controller stops");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_upstream_flux_cli_drives_image_repositories_policies_and_update_automations() {
    let cluster = testkit::cluster().await.expect("cluster");
    upstream_common::install_all_crds(&cluster.client)
        .await
        .expect("crds");
    let ns_guard = testkit::TestNamespace::create(&cluster, "flux-cli-image")
        .await
        .expect("ns");
    let ns = ns_guard.name().to_owned();
    let flux = Flux::new(cluster.plane.kubeconfig_path());
    let label = format!("--label={SHARD_LABEL}={ns}");

    let registry = OciRegistry::start(RegistryAuth::None)
        .await
        .expect("registry");
    for tag in ["1.0.0", "1.1.0", "2.0.0"] {
        registry.push_image("podinfo", tag);
    }
    let image = format!("{}/podinfo", registry.host());
    let git = GitServer::start(GitAuth::None).await.expect("git server");
    let repo = git.create_repo("fleet").expect("repo");
    git.allow_push("fleet").expect("push allowed");
    let manifest = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: podinfo\nspec:\n  template:\n    \
         spec:\n      containers:\n        - name: podinfo\n          \
         image: {image}:1.0.0 # {{\"$imagepolicy\": \"{ns}:podinfo\"}}\n"
    );
    repo.commit_files("main", &[("deploy/podinfo.yaml", &manifest)], "podinfo")
        .expect("commit");
    let deployed = || {
        git.git_in_repo("fleet", &["show", "main:deploy/podinfo.yaml"])
            .expect("git show")
    };

    let storage = tempfile::tempdir().expect("tag storage");
    let sources = sc::RunningController::start(&cluster, &ns)
        .await
        .expect("source-controller");
    let reflector = upstream_common::image_reflector_controller(&cluster, &ns, storage.path())
        .await
        .expect("image-reflector-controller");
    let automation = upstream_common::image_automation_controller(&cluster, &ns)
        .await
        .expect("image-automation-controller");

    flux.ok(&format!(
        "create source git fleet --url={} --branch=main --interval=10m {label} -n {ns} \
         --timeout=60s",
        git.url("fleet")
    ))
    .await;
    let (_, err) = flux
        .ok(&format!(
            "create image repository podinfo --image={image} --interval=10m {label} -n {ns} \
             --timeout=60s"
        ))
        .await;
    assert!(
        err.ends_with("✔ ImageRepository reconciliation completed\n"),
        "{err}"
    );
    let (_, err) = flux
        .ok(&format!(
            "create image policy podinfo --image-ref=podinfo --select-semver=1.x {label} -n {ns} \
             --timeout=60s"
        ))
        .await;
    assert!(
        err.ends_with("✔ ImagePolicy reconciliation completed\n"),
        "{err}"
    );
    let (_, err) = flux
        .ok(&format!(
            "create image update fleet --git-repo-ref=fleet --checkout-branch=main \
             --push-branch=main --author-name=fluxbot --author-email=fluxbot@example.org \
             --interval=10m {label} -n {ns} --timeout=60s"
        ))
        .await;
    assert!(
        err.ends_with("✔ ImageUpdateAutomation reconciliation completed\n"),
        "{err}"
    );
    testkit::wait::until(WAIT, "the automation's commit", || async {
        Ok(deployed()
            .contains(&format!("image: {image}:1.1.0 #"))
            .then_some(()))
    })
    .await
    .expect("1.1.0 committed");

    // get images all -A: the three kinds with flux's columns.
    let (out, _) = flux.ok("get images all -A").await;
    let scanned = row(&out, &[&ns, "imagerepository/podinfo"]);
    assert!(!scanned[2].is_empty(), "LAST SCAN is set:\n{out}");
    assert_eq!(scanned[3..5], ["False", "True"], "{out}");
    assert!(
        scanned[5].starts_with("successful scan: found 3 tags"),
        "{out}"
    );
    let policy = row(&out, &[&ns, "imagepolicy/podinfo"]);
    assert_eq!(policy[2..5], [image.as_str(), "1.1.0", "True"], "{out}");
    let update = row(&out, &[&ns, "imageupdateautomation/fleet"]);
    assert!(!update[2].is_empty(), "LAST RUN is set:\n{out}");
    assert_eq!(update[3..4], ["False"], "{out}");

    // A new tag: the repository rescans on request, the policy selects it, the automation
    // commits it.
    registry.push_image("podinfo", "1.2.0");
    let (_, err) = flux
        .ok(&format!(
            "reconcile image repository podinfo -n {ns} --timeout=60s"
        ))
        .await;
    assert!(err.ends_with("✔ scan fetched 4 tags\n"), "{err}");
    let (_, err) = flux
        .ok(&format!(
            "reconcile image policy podinfo -n {ns} --timeout=60s"
        ))
        .await;
    assert!(
        err.ends_with(&format!("✔ selected ref {image}:1.2.0\n")),
        "{err}"
    );
    let (_, err) = flux
        .ok(&format!(
            "reconcile image update fleet -n {ns} --timeout=60s"
        ))
        .await;
    assert!(
        err.contains("◎ waiting for ImageUpdateAutomation reconciliation\n"),
        "{err}"
    );
    testkit::wait::until(WAIT, "the automation's second commit", || async {
        Ok(deployed()
            .contains(&format!("image: {image}:1.2.0 #"))
            .then_some(()))
    })
    .await
    .expect("1.2.0 committed");
    let (out, _) = flux.ok(&format!("get image update fleet -n {ns}")).await;
    let update = row(&out, &["fleet"]);
    assert_eq!(update[2..4], ["False", "True"], "{out}");

    // suspend and resume.
    let (_, err) = flux
        .ok(&format!("suspend image update fleet -n {ns}"))
        .await;
    assert_eq!(
        err,
        format!(
            "► suspending image update automation fleet in {ns} namespace\n\
             ✔ image update automation suspended\n"
        )
    );
    let (out, _) = flux.ok(&format!("get image update fleet -n {ns}")).await;
    assert_eq!(row(&out, &["fleet"])[2], "True", "SUSPENDED column:\n{out}");
    let (_, err) = flux
        .ok(&format!("resume image update fleet -n {ns} --timeout=60s"))
        .await;
    assert!(
        err.starts_with(&format!(
            "► resuming image update automation fleet in {ns} namespace\n"
        )),
        "{err}"
    );
    let (_, err) = flux
        .ok(&format!("suspend image repository podinfo -n {ns}"))
        .await;
    assert!(err.ends_with("✔ image repository suspended\n"), "{err}");
    let (_, err) = flux
        .ok(&format!(
            "resume image repository podinfo -n {ns} --timeout=60s"
        ))
        .await;
    assert!(err.ends_with("✔ scan fetched 4 tags\n"), "{err}");

    // events of the automation, and export of each kind.
    let (out, _) = flux
        .ok(&format!("events --for ImageUpdateAutomation/fleet -n {ns}"))
        .await;
    assert!(out.starts_with("LAST SEEN"), "{out}");
    assert!(
        out.contains("ImageUpdateAutomation/fleet"),
        "the automation's events are listed:\n{out}"
    );
    let (out, _) = flux
        .ok(&format!("export image policy podinfo -n {ns}"))
        .await;
    for line in [
        "kind: ImagePolicy\n",
        "  imageRepositoryRef:\n",
        "    name: podinfo\n",
        "      range: 1.x\n",
    ] {
        assert!(out.contains(line), "{line:?} in\n{out}");
    }
    assert!(!out.contains("status:"), "{out}");
    let (out, _) = flux.ok(&format!("export image update fleet -n {ns}")).await;
    assert!(out.contains("kind: ImageUpdateAutomation\n"), "{out}");
    assert!(
        out.contains("        email: fluxbot@example.org\n"),
        "{out}"
    );
    assert!(!out.contains("status:"), "{out}");

    for object in [
        "image update fleet",
        "image policy podinfo",
        "image repository podinfo",
        "source git fleet",
    ] {
        flux.ok(&format!("delete {object} --silent -n {ns}")).await;
    }
    wait_none_left(&flux, "images all", &ns).await;
    wait_none_left(&flux, "sources git", &ns).await;
    automation
        .stop()
        .await
        .expect("image-automation-controller stops");
    reflector
        .stop()
        .await
        .expect("image-reflector-controller stops");
    sources.stop().await.expect("source-controller stops");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_upstream_flux_cli_creates_lists_and_suspends_providers_alerts_and_receivers() {
    let cluster = testkit::cluster().await.expect("cluster");
    upstream_common::install_all_crds(&cluster.client)
        .await
        .expect("crds");
    let ns_guard = testkit::TestNamespace::create(&cluster, "flux-cli-notify")
        .await
        .expect("ns");
    let ns = ns_guard.name().to_owned();
    let flux = Flux::new(cluster.plane.kubeconfig_path());
    let label = format!("--label={SHARD_LABEL}={ns}");
    let (notifications, receiver_url) = upstream_common::notification_controller(&cluster, &ns)
        .await
        .expect("notification-controller");

    // The Receiver's target: a GitRepository no controller of this test reconciles.
    let repos: Api<driftless_api::source::GitRepository> =
        Api::namespaced(cluster.client.clone(), &ns);
    let target: driftless_api::source::GitRepository = serde_json::from_value(serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "apps"},
        "spec": {"url": "https://example.invalid/apps", "interval": "1h", "suspend": true},
    }))
    .expect("GitRepository");
    repos
        .create(&Default::default(), &target)
        .await
        .expect("target created");

    let (_, err) = flux
        .ok(&format!(
            "create alert-provider sink --type=generic --address=http://127.0.0.1:9/hook \
             {label} -n {ns} --timeout=30s"
        ))
        .await;
    assert!(err.ends_with("✔ Provider sink is ready\n"), "{err}");
    let (_, err) = flux
        .ok(&format!(
            "create alert apps --provider-ref=sink --event-source=GitRepository/*,Kustomization/apps \
             --event-severity=info {label} -n {ns} --timeout=30s"
        ))
        .await;
    assert!(err.ends_with("✔ Alert apps is ready\n"), "{err}");
    let token = "flux-cli-receiver-token";
    flux.ok(&format!(
        "create secret receiver hook-token --type=generic --token={token} \
         --hostname=flux.example.org -n {ns}"
    ))
    .await;
    let (_, err) = flux
        .ok(&format!(
            "create receiver hook --type=generic --secret-ref=hook-token \
             --resource=GitRepository/apps {label} -n {ns} --timeout=60s"
        ))
        .await;
    // Flux's webhook path: sha256 of token, name and namespace.
    let path = {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(format!("{token}hook{ns}").as_bytes());
        format!("/hook/{}", hex::encode(digest))
    };
    assert!(err.contains("✔ Receiver hook is ready\n"), "{err}");
    assert!(
        err.ends_with(&format!("✔ generated webhook URL {path}\n")),
        "{err}"
    );

    // get: flux's columns for each kind.
    let (out, _) = flux.ok("get alert-providers -A").await;
    assert_eq!(
        row(&out, &[&ns, "sink"]),
        [ns.as_str(), "sink", "True", "Provider is Ready"],
        "{out}"
    );
    let (out, _) = flux.ok("get alerts -A").await;
    assert_eq!(
        row(&out, &[&ns, "apps"]),
        [ns.as_str(), "apps", "False", "True", "Alert is Ready"],
        "{out}"
    );
    let (out, _) = flux.ok(&format!("get receivers -n {ns}")).await;
    assert_eq!(
        row(&out, &["hook"]),
        [
            "hook",
            "False",
            "True",
            &format!("Receiver initialised for path: {path}")
        ],
        "{out}"
    );

    // The path flux printed is the one the webhook server answers: the target is annotated.
    let status = upstream_common::http_post(&format!("{receiver_url}{path}"), "{}")
        .await
        .expect("webhook POST");
    assert_eq!(status, 200, "the receiver accepts the hook");
    testkit::wait::until(WAIT, "the target annotated", || async {
        let repo = repos.get("apps").await.map_err(|e| e.to_string())?;
        Ok(repo
            .metadata
            .annotations
            .unwrap_or_default()
            .contains_key("reconcile.fluxcd.io/requestedAt")
            .then_some(()))
    })
    .await
    .expect("requestedAt set by the receiver");

    // reconcile, suspend and resume the receiver; suspend and resume the static kinds.
    let (_, err) = flux
        .ok(&format!("reconcile receiver hook -n {ns} --timeout=60s"))
        .await;
    assert!(
        err.ends_with("✔ Receiver reconciliation completed\n"),
        "{err}"
    );
    let (_, err) = flux.ok(&format!("suspend receiver hook -n {ns}")).await;
    assert_eq!(
        err,
        format!("► suspending receiver hook in {ns} namespace\n✔ receiver suspended\n")
    );
    let (out, _) = flux.ok(&format!("get receivers -n {ns}")).await;
    assert_eq!(row(&out, &["hook"])[1], "True", "SUSPENDED column:\n{out}");
    let (_, err) = flux
        .ok(&format!("resume receiver hook -n {ns} --timeout=60s"))
        .await;
    assert!(
        err.ends_with("✔ Receiver reconciliation completed\n"),
        "{err}"
    );
    let (_, err) = flux.ok(&format!("suspend alert apps -n {ns}")).await;
    assert!(err.ends_with("✔ alert suspended\n"), "{err}");
    let (out, _) = flux.ok(&format!("get alerts -n {ns}")).await;
    assert_eq!(row(&out, &["apps"])[1], "True", "{out}");
    let (_, err) = flux
        .ok(&format!("resume alert apps -n {ns} --timeout=30s"))
        .await;
    assert!(err.ends_with("✔ Alert reconciliation completed\n"), "{err}");

    // export: the objects as written.
    let (out, _) = flux.ok(&format!("export receiver hook -n {ns}")).await;
    for line in [
        "apiVersion: notification.toolkit.fluxcd.io/v1\n",
        "kind: Receiver\n",
        "  type: generic\n",
        "    name: hook-token\n",
    ] {
        assert!(out.contains(line), "{line:?} in\n{out}");
    }
    assert!(!out.contains("status:"), "{out}");
    let (out, _) = flux.ok(&format!("export alert apps -n {ns}")).await;
    assert!(out.contains("kind: Alert\n"), "{out}");
    assert!(out.contains("  eventSeverity: info\n"), "{out}");
    let (out, _) = flux
        .ok(&format!("export alert-provider sink -n {ns}"))
        .await;
    assert!(
        out.contains("  address: http://127.0.0.1:9/hook\n"),
        "{out}"
    );

    for object in ["receiver hook", "alert apps", "alert-provider sink"] {
        flux.ok(&format!("delete {object} --silent -n {ns}")).await;
    }
    wait_none_left(&flux, "receivers", &ns).await;
    repos
        .delete("apps", &Default::default())
        .await
        .expect("target deleted");
    notifications
        .stop()
        .await
        .expect("notification-controller stops");
}
