//! Helm chart rendering: what `helm template` prints, without Kubernetes.
//!
//! One module a step: [`load`] reads a chart directory or packaged `.tgz`
//! (with [`archive`] limits and [`ignore`] rules) into a [`Chart`];
//! [`strvals`] and [`values`] turn `-f`/`--set` into user values and
//! coalesce them with the chart's defaults; [`deps`] enables subcharts
//! (conditions, tags) and imports their values; [`schema`] checks values
//! against `values.schema.json`; [`render`] runs the templates through
//! driftless-gotemplate; [`manifest`] splits hooks from manifests and
//! prints them in Helm's install order.

pub mod archive;
pub mod capabilities;
pub mod chart;
mod chartvalue;
pub mod conformance;
pub mod deps;
mod error;
mod exectrace;
pub mod files;
pub mod funcs_v4;
pub mod glob;
pub mod ignore;
pub mod load;
pub mod manifest;
pub mod release;
pub mod render;
pub mod repo;
pub mod schema;
pub mod strvals;
pub mod values;

pub use chart::{Chart, Dependency, File, Metadata};
pub use error::Error;
pub use load::load;
pub use render::{HelmVersion, Options, template, template_with_notes};
pub use strvals::ValueOptions;

/// Values as Helm holds them: JSON-shaped, numbers from YAML are float64,
/// integers from `--set` int64.
pub type Values = serde_json::Map<String, serde_json::Value>;
