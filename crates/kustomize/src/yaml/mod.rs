//! YAML as kustomize reads and prints it.

pub mod emit;
pub mod node;
pub mod parse;
pub mod resolve;
pub mod value;

pub use node::{Flow, Mapping, Node, Scalar, Style};
pub use parse::{YamlError, parse_documents};
pub use value::{from_json, to_json, to_value};
