//! What each side asked of the API server: `apiserver_request_total` read before and after a
//! side's run, printed per resource and verb, per object. The control plane is the benchmark's
//! own, so the difference is the two controllers plus the benchmark's own creates and
//! Ready polls (POST and LIST of the objects' resource), the same for both sides per second.
//! A diagnostic for where a side's time goes (a client-side rate limit is per resource).

use std::collections::BTreeMap;

/// Request counts by (resource, subresource, verb), summed over codes, scopes and versions.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct Requests(BTreeMap<(String, String, String), f64>);

impl Requests {
    /// Reads the API server's counters; `None` (the run goes on) if /metrics cannot be read.
    pub(super) async fn read(client: &kube::Client) -> Option<Self> {
        let request = http::Request::get("/metrics").body(Vec::new()).ok()?;
        let text = client.request_text(request).await.ok()?;
        Some(Self::parse(&text))
    }

    fn parse(text: &str) -> Self {
        let mut counts = BTreeMap::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("apiserver_request_total{") else {
                continue;
            };
            let Some((labels, value)) = rest.rsplit_once("} ") else {
                continue;
            };
            let Ok(value) = value.trim().parse::<f64>() else {
                continue;
            };
            let key = (
                label(labels, "resource"),
                label(labels, "subresource"),
                label(labels, "verb"),
            );
            *counts.entry(key).or_insert(0.0) += value;
        }
        Self(counts)
    }

    /// The requests made since `before`, largest first, without the ones that did not move.
    pub(super) fn since(&self, before: &Self) -> Vec<(String, f64)> {
        let mut delta: Vec<(String, f64)> = self
            .0
            .iter()
            .filter_map(|((resource, sub, verb), after)| {
                let was = before
                    .0
                    .get(&(resource.clone(), sub.clone(), verb.clone()))
                    .copied()
                    .unwrap_or(0.0);
                let name = if sub.is_empty() {
                    format!("{verb} {resource}")
                } else {
                    format!("{verb} {resource}/{sub}")
                };
                (after - was >= 1.0).then_some((name, after - was))
            })
            .collect();
        delta.sort_by(|a, b| b.1.total_cmp(&a.1));
        delta
    }
}

/// The value of `name="…"` in a Prometheus label set (values here carry no escaped quotes).
fn label(labels: &str, name: &str) -> String {
    let needle = format!("{name}=\"");
    labels
        .split(',')
        .find_map(|pair| pair.strip_prefix(&needle))
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or_default()
        .to_owned()
}

/// Prints one side's requests per object (the twenty largest) to the benchmark's log.
pub(super) fn print(label: &str, count: usize, before: &Requests, after: &Requests) {
    let delta = after.since(before);
    let total: f64 = delta.iter().map(|(_, n)| n).sum();
    let per = |n: f64| n / count.max(1) as f64;
    let top: Vec<String> = delta
        .iter()
        .take(20)
        .map(|(name, n)| format!("{name} {:.0} ({:.2}/object)", n, per(*n)))
        .collect();
    eprintln!(
        "bench: {label}: {total:.0} API requests ({:.2}/object): {}",
        per(total),
        top.join(", ")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = r#"# HELP apiserver_request_total x
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="secrets",scope="namespace",subresource="",verb="LIST",version="v1"} 4
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="secrets",scope="resource",subresource="",verb="POST",version="v1"} 1
"#;
    const AFTER: &str = r#"apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="secrets",scope="namespace",subresource="",verb="LIST",version="v1"} 14
apiserver_request_total{code="404",component="apiserver",dry_run="",group="",resource="secrets",scope="namespace",subresource="",verb="LIST",version="v1"} 2
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="secrets",scope="resource",subresource="",verb="POST",version="v1"} 1
apiserver_request_total{code="200",component="apiserver",dry_run="",group="helm.toolkit.fluxcd.io",resource="helmreleases",scope="resource",subresource="status",verb="APPLY",version="v2"} 3
apiserver_request_count_other{resource="secrets",verb="LIST"} 99
"#;

    #[test]
    fn the_difference_is_summed_over_codes_and_split_by_subresource() {
        let delta = Requests::parse(AFTER).since(&Requests::parse(BEFORE));
        assert_eq!(
            delta,
            vec![
                ("LIST secrets".to_owned(), 12.0),
                ("APPLY helmreleases/status".to_owned(), 3.0),
            ]
        );
    }
}
