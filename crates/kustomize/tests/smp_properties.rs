//! Property tests of the full strategic merge patch (`smp::apply`) and the
//! two-way diff (`smp::diff`) over generated objects of built-in kinds
//! (Deployment, Service, ConfigMap: lists merging by key, primitive merge
//! lists, replaced lists, nested maps, a retainKeys map) and of a custom kind
//! (plain merge): the diff applied to the original gives the modified
//! object, and applying a patch twice changes nothing more.

use driftless_kustomize::smp::{Schema, apply, diff};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn names(pool: &'static [&'static str]) -> impl Strategy<Value = Vec<&'static str>> {
    proptest::sample::subsequence(pool, 0..=pool.len()).prop_shuffle()
}

fn small_map() -> impl Strategy<Value = Map<String, Value>> {
    proptest::collection::btree_map(
        prop::sample::select(vec!["app", "tier", "team", "zone"]),
        prop::sample::select(vec!["a", "b", "web", "1"]),
        0..4,
    )
    .prop_map(|m| {
        m.into_iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect()
    })
}

fn container() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec!["nginx", "envoy:1", "busybox"]),
        proptest::collection::vec(prop::sample::select(vec!["-v", "--x", "run"]), 0..3),
        names(&["A", "B", "C"]).prop_flat_map(|env| {
            let n = env.len();
            (
                Just(env),
                proptest::collection::vec(prop::sample::select(vec!["1", "2"]), n),
            )
        }),
        names(&["80", "443", "8080"]),
        any::<bool>(),
    )
        .prop_map(|(image, args, (env, values), ports, with_args)| {
            let mut c = json!({"image": image});
            if with_args {
                c["args"] = json!(args);
            }
            if !env.is_empty() {
                let env: Vec<Value> = env
                    .iter()
                    .zip(values)
                    .map(|(n, v)| json!({"name": n, "value": v}))
                    .collect();
                c["env"] = Value::Array(env);
            }
            if !ports.is_empty() {
                let ports: Vec<Value> = ports
                    .iter()
                    .map(|p| json!({"containerPort": p.parse::<u16>().unwrap_or(80)}))
                    .collect();
                c["ports"] = Value::Array(ports);
            }
            c
        })
}

fn deployment() -> impl Strategy<Value = Value> {
    (
        small_map(),
        names(&["x.io/a", "x.io/b", "x.io/c"]),
        0..4u8,
        prop::option::of(prop::option::of(1..3u8)),
        names(&["web", "side", "init"]).prop_flat_map(|names| {
            let n = names.len();
            (Just(names), proptest::collection::vec(container(), n))
        }),
    )
        .prop_map(|(labels, finalizers, replicas, strategy, (names, containers))| {
            let mut metadata = json!({"name": "d"});
            if !labels.is_empty() {
                metadata["labels"] = Value::Object(labels);
            }
            if !finalizers.is_empty() {
                metadata["finalizers"] = json!(finalizers);
            }
            let containers: Vec<Value> = names
                .iter()
                .zip(containers)
                .map(|(n, mut c)| {
                    c["name"] = json!(n);
                    c
                })
                .collect();
            let mut spec = json!({"replicas": replicas, "template": {"spec": {"containers": containers}}});
            match strategy {
                Some(Some(surge)) => {
                    spec["strategy"] =
                        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge}})
                }
                Some(None) => spec["strategy"] = json!({"type": "Recreate"}),
                None => {}
            }
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": spec})
        })
}

fn service() -> impl Strategy<Value = Value> {
    (
        small_map(),
        names(&["80", "443", "53"]),
        prop::option::of(prop::sample::select(vec!["ClusterIP", "NodePort"])),
    )
        .prop_map(|(selector, ports, kind)| {
            let ports: Vec<Value> = ports
                .iter()
                .map(|p| json!({"port": p.parse::<u16>().unwrap_or(80), "name": format!("p{p}")}))
                .collect();
            let mut spec = json!({"ports": ports, "selector": selector});
            if let Some(kind) = kind {
                spec["type"] = json!(kind);
            }
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": spec})
        })
}

fn config_map() -> impl Strategy<Value = Value> {
    (small_map(), small_map()).prop_map(|(data, labels)| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "c", "labels": labels}, "data": data})
    })
}

fn custom() -> impl Strategy<Value = Value> {
    (
        small_map(),
        names(&["a", "b", "c"]),
        prop::option::of(small_map()),
    )
        .prop_map(|(nested, items, extra)| {
            let items: Vec<Value> = items.iter().map(|n| json!({"name": n})).collect();
            let mut spec = json!({"nested": {"inner": nested}, "items": items});
            if let Some(extra) = extra {
                spec["extra"] = Value::Object(extra);
            }
            json!({"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "t"}, "spec": spec})
        })
}

/// Two objects of the same kind.
fn pair() -> impl Strategy<Value = (Value, Value)> {
    prop_oneof![
        (deployment(), deployment()),
        (service(), service()),
        (config_map(), config_map()),
        (custom(), custom()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn the_diff_applied_to_the_original_gives_the_modified_object((original, modified) in pair()) {
        let schema = Schema::kubernetes();
        let patch = diff(&original, &modified, &schema).expect("the diff is computed");
        let applied = apply(&original, &patch, &schema).expect("the patch applies");
        prop_assert_eq!(applied, modified, "patch: {}", patch);
    }

    #[test]
    fn a_patch_applied_twice_changes_nothing_more((original, modified) in pair()) {
        let schema = Schema::kubernetes();
        let patch = diff(&original, &modified, &schema).expect("the diff is computed");
        let once = apply(&original, &patch, &schema).expect("the patch applies");
        let twice = apply(&once, &patch, &schema).expect("the patch applies again");
        prop_assert_eq!(twice, once, "patch: {}", patch);
    }

    #[test]
    fn an_object_diffed_with_itself_gives_an_empty_patch((object, _) in pair()) {
        let patch = diff(&object, &object, &Schema::kubernetes()).expect("the diff is computed");
        prop_assert_eq!(patch, json!({}));
    }
}
