use super::*;
use crate::setters::Field;

fn value_of(marker: &Marker) -> Option<String> {
    (marker.policy == "flux-system:app").then(|| match marker.field {
        Field::Tag => "1.2.4".to_string(),
        _ => "registry.example/app:1.2.4".to_string(),
    })
}

fn write(root: &Path, path: &str, text: &str) {
    let full = root.join(path);
    std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
    std::fs::write(full, text).expect("write");
}

const TWO_DOCS: &str = r#"---
apiVersion: v1
kind: ConfigMap
metadata:
  name: unrelated
data:
  image: registry.example/app:1.0.0 # {"$imagepolicy": "flux-system:app"}
---
# the app
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: apps
spec:
  template:
    spec:
      containers:
        - image: registry.example/app:1.0.0 # {"$imagepolicy": "flux-system:app"}
"#;

#[test]
fn changes_are_grouped_by_file_and_object_and_untouched_files_are_not_returned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(root, "clusters/prod/apps.yaml", TWO_DOCS);
    write(
        root,
        "clusters/prod/values.yml",
        "tag: 1.0.0 # {\"$imagepolicy\": \"flux-system:app:tag\"}\n",
    );
    write(root, "clusters/prod/plain.yaml", "kind: Namespace\n");
    write(
        root,
        "clusters/prod/other.yaml",
        "image: x:1 # {\"$imagepolicy\": \"flux-system:other\"}\n",
    );
    write(
        root,
        "clusters/prod/notes.txt",
        "image: x:1 # {\"$imagepolicy\": \"flux-system:app\"}\n",
    );
    write(
        root,
        "clusters/prod/.hidden/x.yaml",
        "image: x:1 # {\"$imagepolicy\": \"flux-system:app\"}\n",
    );
    write(
        root,
        "clusters/staging/x.yaml",
        "image: x:1 # {\"$imagepolicy\": \"flux-system:app\"}\n",
    );

    let updated = update_with_setters(root, "clusters/prod", value_of).expect("update");
    let paths: Vec<&String> = updated.files.keys().collect();
    assert_eq!(
        paths,
        ["clusters/prod/apps.yaml", "clusters/prod/values.yml"]
    );
    assert_eq!(
        String::from_utf8(updated.files["clusters/prod/apps.yaml"].clone()).expect("utf8"),
        TWO_DOCS.replace("app:1.0.0", "app:1.2.4")
    );
    let files: Vec<&String> = updated.result.file_changes.keys().collect();
    assert_eq!(files, ["apps.yaml", "values.yml"]);
    let objects = &updated.result.file_changes["apps.yaml"];
    let ids: Vec<(&str, &str, &str)> = objects
        .keys()
        .map(|id| (id.kind.as_str(), id.namespace.as_str(), id.name.as_str()))
        .collect();
    assert_eq!(
        ids,
        // Ordered by apiVersion first: apps/v1 sorts before v1.
        [
            ("Deployment", "apps", "app"),
            ("ConfigMap", "", "unrelated")
        ]
    );
    let all = updated.result.changes();
    assert_eq!(all.len(), 3);
    assert_eq!(all[2].setter, "flux-system:app:tag");
    assert_eq!(all[2].old_value, "1.0.0");
    assert_eq!(
        updated.result.objects().len(),
        3,
        "values.yml has no identity"
    );
}

#[test]
fn nothing_to_change_gives_an_empty_result_and_a_missing_path_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "a.yaml",
        "image: registry.example/app:1.2.4 # {\"$imagepolicy\": \"flux-system:app\"}\n",
    );
    let updated = update_with_setters(dir.path(), "", value_of).expect("update");
    assert!(updated.result.is_empty() && updated.files.is_empty());
    let err = update_with_setters(dir.path(), "nope", value_of).expect_err("missing");
    assert_eq!(
        err.to_string(),
        "update path 'nope' does not exist in the repository"
    );
}

#[test]
fn the_update_path_is_cleaned_and_cannot_climb_out_of_the_repository() {
    assert_eq!(clean_update_path(None), "");
    assert_eq!(clean_update_path(Some("./")), "");
    assert_eq!(
        clean_update_path(Some("./clusters//prod/")),
        "clusters/prod"
    );
    assert_eq!(clean_update_path(Some("/../../etc")), "etc");
    assert_eq!(clean_update_path(Some("a/../b")), "b");
}
