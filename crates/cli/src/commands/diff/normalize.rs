//! The built objects as flux's diff sends them to the dry-run: a Secret's `stringData` moved
//! into `data` (base64-encoded, overriding a `data` value of the same key), and a missing port
//! `protocol` of Services and Pod templates set to `TCP`. Both matter for what a server-side
//! apply merges: fields this manager owned under `data` and no longer sends are removed, and
//! ports are merged by port and protocol together.

use base64::Engine as _;
use serde_json::{Map, Value};

/// Normalizes every object of `objects` in place.
pub fn objects(objects: &mut [Value]) {
    for object in objects {
        one(object);
    }
}

/// Normalizes one object in place.
pub fn one(object: &mut Value) {
    let kind = object["kind"].as_str().unwrap_or_default().to_owned();
    let api_version = object["apiVersion"].as_str().unwrap_or_default().to_owned();
    let core = api_version == "v1";
    let apps = api_version == "apps/v1";
    let batch = api_version == "batch/v1";
    match kind.as_str() {
        "Secret" if core => secret(object),
        "Service" if core => ports(object.pointer_mut("/spec/ports")),
        "Pod" if core => containers(object.pointer_mut("/spec")),
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" if apps => {
            containers(object.pointer_mut("/spec/template/spec"));
        }
        "Job" if batch => containers(object.pointer_mut("/spec/template/spec")),
        "CronJob" if batch => {
            containers(object.pointer_mut("/spec/jobTemplate/spec/template/spec"))
        }
        _ => {}
    }
}

fn secret(object: &mut Value) {
    let Some(map) = object.as_object_mut() else {
        return;
    };
    // Flux normalizes through the typed Secret: one that does not decode as one (a value that
    // is not a string) is sent as it is.
    let strings_only = |field: &str| {
        map.get(field)
            .and_then(Value::as_object)
            .is_none_or(|m| m.values().all(Value::is_string))
    };
    if !strings_only("stringData") || !strings_only("data") {
        return;
    }
    let Some(Value::Object(strings)) = map.remove("stringData") else {
        return;
    };
    if strings.is_empty() {
        return;
    }
    let data = map
        .entry("data")
        .or_insert_with(|| Value::Object(Map::new()));
    if !data.is_object() {
        *data = Value::Object(Map::new());
    }
    if let Some(data) = data.as_object_mut() {
        for (key, value) in strings {
            let encoded = base64::engine::general_purpose::STANDARD
                .encode(value.as_str().unwrap_or_default());
            data.insert(key, Value::String(encoded));
        }
    }
}

/// Flux defaults the ports of `containers` only (not init or ephemeral containers).
fn containers(pod_spec: Option<&mut Value>) {
    let Some(containers) = pod_spec
        .and_then(|s| s.get_mut("containers"))
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for container in containers {
        ports(container.get_mut("ports"));
    }
}

fn ports(ports: Option<&mut Value>) {
    let Some(ports) = ports.and_then(Value::as_array_mut) else {
        return;
    };
    for port in ports.iter_mut().filter_map(Value::as_object_mut) {
        let missing = port
            .get("protocol")
            .is_none_or(|p| p.as_str().is_none_or(str::is_empty));
        if missing {
            port.insert("protocol".into(), Value::String("TCP".into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn string_data_moves_into_data_encoded_and_wins_over_a_data_value_of_the_same_key() {
        let mut secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"a": "b2xk", "b": "Yg=="}, "stringData": {"a": "new", "c": "**SOPS**"}});
        one(&mut secret);
        assert_eq!(
            secret,
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                "data": {"a": "bmV3", "b": "Yg==", "c": "KipTT1BTKio="}})
        );
        let mut only = json!({"apiVersion": "v1", "kind": "Secret", "stringData": {"k": "v"}});
        one(&mut only);
        assert_eq!(
            only,
            json!({"apiVersion": "v1", "kind": "Secret", "data": {"k": "dg=="}})
        );
        let odd = json!({"apiVersion": "v1", "kind": "Secret", "stringData": {"n": 1}});
        let mut unchanged = odd.clone();
        one(&mut unchanged);
        assert_eq!(unchanged, odd);
    }

    #[test]
    fn ports_without_a_protocol_get_tcp_in_services_and_pod_templates_only() {
        let mut service = json!({"apiVersion": "v1", "kind": "Service",
            "spec": {"ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]}});
        one(&mut service);
        assert_eq!(
            service["spec"]["ports"],
            json!([{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}])
        );
        let mut deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "spec": {"template": {"spec": {
                "containers": [{"name": "app", "ports": [{"containerPort": 8080}]}],
                "initContainers": [{"name": "init", "ports": [{"containerPort": 1}]}]}}}});
        one(&mut deployment);
        let pod = &deployment["spec"]["template"]["spec"];
        assert_eq!(pod["containers"][0]["ports"][0]["protocol"], "TCP");
        assert!(
            pod["initContainers"][0]["ports"][0]
                .get("protocol")
                .is_none()
        );
        let mut cronjob = json!({"apiVersion": "batch/v1", "kind": "CronJob",
            "spec": {"jobTemplate": {"spec": {"template": {"spec": {
                "containers": [{"name": "c", "ports": [{"containerPort": 1}]}]}}}}}});
        one(&mut cronjob);
        assert_eq!(
            cronjob.pointer("/spec/jobTemplate/spec/template/spec/containers/0/ports/0/protocol"),
            Some(&json!("TCP"))
        );
        let custom = json!({"apiVersion": "example.com/v1", "kind": "Service",
            "spec": {"ports": [{"port": 80}]}});
        let mut unchanged = custom.clone();
        one(&mut unchanged);
        assert_eq!(unchanged, custom);
    }
}
