use super::*;

/// Policy `flux-system:podinfo` at ghcr.io/stefanprodan/podinfo:6.5.1 with a digest;
/// `flux-system:plain` at registry.example/app:2.0.0 without one.
fn latest(marker: &Marker) -> Option<String> {
    let (name, tag, digest) = match marker.policy.as_str() {
        "flux-system:podinfo" => (
            "ghcr.io/stefanprodan/podinfo",
            "6.5.1",
            Some("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
        ),
        "flux-system:plain" => ("registry.example/app", "2.0.0", None),
        "flux-system:numeric" => ("registry.example/num", "1.10", None),
        _ => return None,
    };
    match marker.field {
        Field::Image => Some(match digest {
            Some(d) => format!("{name}:{tag}@{d}"),
            None => format!("{name}:{tag}"),
        }),
        Field::Tag => Some(tag.to_string()),
        Field::Name => Some(name.to_string()),
        Field::Digest => digest.map(str::to_string),
    }
}

const DEPLOYMENT: &str = r#"# Podinfo, kept up to date by Flux.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo   # the app
  namespace: apps
spec:
  template:
    spec:
      containers:
        - name: podinfo
          image: registry.example/app:1.0.0 # {"$imagepolicy": "flux-system:plain"}
          args: ["--port", "9898"]  # flow sequence, no marker
        - name: sidecar
          image: "registry.example/app:1.0.0"   # {"$imagepolicy": "flux-system:plain"}
        -   image: 'registry.example/app:1.0.0' #   {"$imagepolicy":"flux-system:plain"}
"#;

#[test]
fn a_full_image_marker_rewrites_only_the_scalar_and_keeps_quoting_and_spacing() {
    let (out, changes) = rewrite(DEPLOYMENT, latest);
    let expected = DEPLOYMENT
        .replace(
            "image: registry.example/app:1.0.0 #",
            "image: registry.example/app:2.0.0 #",
        )
        .replace(
            "image: \"registry.example/app:1.0.0\"   #",
            "image: \"registry.example/app:2.0.0\"   #",
        )
        .replace(
            "image: 'registry.example/app:1.0.0' #",
            "image: 'registry.example/app:2.0.0' #",
        );
    assert_eq!(out, expected);
    assert_eq!(changes.len(), 3);
    assert_eq!(changes[0].line, 11);
    assert_eq!(changes[0].old_value, "registry.example/app:1.0.0");
    assert_eq!(changes[0].new_value, "registry.example/app:2.0.0");
    assert_eq!(changes[0].marker.setter(), "flux-system:plain");
}

#[test]
fn helm_values_with_name_tag_and_digest_markers_each_get_their_field() {
    let values = r#"apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
spec:
  values:
    image:
      repository: ghcr.io/stefanprodan/podinfo # {"$imagepolicy": "flux-system:podinfo:name"}
      tag: 6.0.0 # {"$imagepolicy": "flux-system:podinfo:tag"}
      digest: sha256:aaaa # {"$imagepolicy": "flux-system:podinfo:digest"}
    other:
      tag: 1.0.0 # {"$imagepolicy": "flux-system:plain:tag"}
      digest: "" # {"$imagepolicy": "flux-system:plain:digest"}
"#;
    let (out, changes) = rewrite(values, latest);
    assert!(out.contains("      tag: 6.5.1 # {\"$imagepolicy\": \"flux-system:podinfo:tag\"}\n"));
    assert!(out.contains(
        "      digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef # {"
    ));
    assert!(out.contains("      tag: 2.0.0 # {\"$imagepolicy\": \"flux-system:plain:tag\"}\n"));
    // No digest reflected: the digest line is left as it was.
    assert!(
        out.contains("      digest: \"\" # {\"$imagepolicy\": \"flux-system:plain:digest\"}\n")
    );
    // The name was already right: not a change.
    let setters: Vec<String> = changes.iter().map(|c| c.marker.setter()).collect();
    assert_eq!(
        setters,
        [
            "flux-system:podinfo:tag",
            "flux-system:podinfo:digest",
            "flux-system:plain:tag"
        ]
    );
}

#[test]
fn a_full_image_marker_with_a_reflected_digest_pins_it() {
    let (out, _) = rewrite(
        "image: ghcr.io/stefanprodan/podinfo:6.0.0 # {\"$imagepolicy\": \"flux-system:podinfo\"}\n",
        latest,
    );
    assert_eq!(
        out,
        "image: ghcr.io/stefanprodan/podinfo:6.5.1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef # {\"$imagepolicy\": \"flux-system:podinfo\"}\n"
    );
}

#[test]
fn unknown_policies_bad_markers_and_unsafe_lines_are_left_byte_identical() {
    let text = "\
a: x:1 # {\"$imagepolicy\": \"other-ns:missing\"}\r
b: x:1 # {\"$imagepolicy\": \"flux-system\"}
c: x:1 # {\"$imagepolicy\": \"flux-system:plain:size\"}
d: x:1 # {\"$imagepolicy\": flux-system:plain}
e: |  # {\"$imagepolicy\": \"flux-system:plain\"}
  x:1
f: [x:1] # {\"$imagepolicy\": \"flux-system:plain\"}
g: {image: x:1} # {\"$imagepolicy\": \"flux-system:plain\"}
h: *anchor # {\"$imagepolicy\": \"flux-system:plain\"}
i: \"x:1 # {\\\"$imagepolicy\\\": \\\"flux-system:plain\\\"}\"
j: # {\"$imagepolicy\": \"flux-system:plain\"}
# k: x:1 # {\"$imagepolicy\": \"flux-system:plain\"}
";
    let (out, changes) = rewrite(text, latest);
    assert_eq!(out, text);
    assert!(changes.is_empty(), "{changes:?}");
}

#[test]
fn sequence_items_quoted_keys_and_crlf_lines_are_rewritten_in_place() {
    let text = "images:\r\n  - registry.example/app:1.0.0 # {\"$imagepolicy\": \"flux-system:plain\"}\r\n  - - nested:1 # {\"$imagepolicy\": \"flux-system:plain:tag\"}\r\n\"quoted key\": old # {\"$imagepolicy\": \"flux-system:plain:name\"}\r\n";
    let (out, changes) = rewrite(text, latest);
    assert_eq!(
        out,
        "images:\r\n  - registry.example/app:2.0.0 # {\"$imagepolicy\": \"flux-system:plain\"}\r\n  - - 2.0.0 # {\"$imagepolicy\": \"flux-system:plain:tag\"}\r\n\"quoted key\": registry.example/app # {\"$imagepolicy\": \"flux-system:plain:name\"}\r\n"
    );
    assert_eq!(changes.len(), 3);
}

#[test]
fn a_tag_that_would_read_back_as_a_number_is_quoted_when_the_old_value_was_plain() {
    let (out, _) = rewrite(
        "tag: v1 # {\"$imagepolicy\": \"flux-system:numeric:tag\"}\nq: '1.9' # {\"$imagepolicy\": \"flux-system:numeric:tag\"}\n",
        latest,
    );
    assert_eq!(
        out,
        "tag: \"1.10\" # {\"$imagepolicy\": \"flux-system:numeric:tag\"}\nq: '1.10' # {\"$imagepolicy\": \"flux-system:numeric:tag\"}\n"
    );
}

#[test]
fn a_file_without_markers_comes_back_unchanged_even_without_a_final_newline() {
    let text = "a: 1\n# comment with # {\"$imagepolicy\": nothing\nb: \"#x\"";
    let (out, changes) = rewrite(text, latest);
    assert_eq!(out, text);
    assert!(changes.is_empty());
}

#[test]
fn markers_parse_with_or_without_spaces_and_reject_other_comments() {
    assert_eq!(
        parse_marker(r#" {"$imagepolicy":"ns:p:tag"}"#),
        Some(Marker {
            policy: "ns:p".into(),
            field: Field::Tag
        })
    );
    assert_eq!(parse_marker(" just a comment"), None);
    assert_eq!(parse_marker(r#" {"$imagepolicy": ":p"}"#), None);
    assert_eq!(parse_marker(r#" {"$imagepolicy": "a:b:c:d"}"#), None);
}
