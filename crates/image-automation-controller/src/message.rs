//! The commit message: `spec.git.commit.messageTemplate` rendered with Go's text/template
//! and Sprig (crates/gotemplate) over Flux's data model, or Flux's default message.
//!
//! The data is `.AutomationObject` (prints as `<namespace>/<name>`, fields `Name` and
//! `Namespace`), `.Changed` (field `FileChanges`, methods `Changes` and `Objects`) and
//! `.Values` (`messageTemplateValues`). Object identifiers are map keys with the fields
//! `Name`, `Namespace`, `APIVersion` and `Kind`; changes have `OldValue`, `NewValue` and
//! `Setter`. Maps range in sorted order.

use std::collections::BTreeMap;
use std::sync::Arc;

use driftless_gotemplate::{Map, Object, Templates, Value};

use crate::update::{Change, ObjectIdentifier, UpdateResult};

/// Flux's commit message when no template is given.
pub const DEFAULT_MESSAGE: &str = "Update from image update automation";

/// A template that does not parse or fails to execute.
#[derive(Debug, thiserror::Error)]
#[error("commit message template: {0}")]
pub struct TemplateError(String);

/// Render the commit message for `result`.
pub fn render(
    template: Option<&str>,
    namespace: &str,
    name: &str,
    values: &BTreeMap<String, String>,
    result: &UpdateResult,
) -> Result<String, TemplateError> {
    let Some(text) = template else {
        return Ok(DEFAULT_MESSAGE.to_string());
    };
    // Flux removed `.Updated`; a template still using it is an error, not an empty string.
    if text.contains(".Updated") {
        return Err(TemplateError(
            "template data 'Updated' has been removed, use 'Changed' instead".into(),
        ));
    }
    let mut templates =
        Templates::with_funcs("commit message", driftless_gotemplate::sprig::funcs());
    templates
        .parse("commit message", text)
        .map_err(|e| TemplateError(e.to_string()))?;
    let mut data = Map::new();
    data.insert(
        "AutomationObject".into(),
        Value::Object(Arc::new(AutomationObject {
            namespace: namespace.to_string(),
            name: name.to_string(),
        }) as _),
    );
    data.insert(
        "Changed".into(),
        Value::Object(Arc::new(Changed(result.clone())) as _),
    );
    data.insert(
        "Values".into(),
        Value::map(
            values
                .iter()
                .map(|(k, v)| (k.clone(), Value::str(v.as_str())))
                .collect(),
        ),
    );
    templates
        .execute("commit message", &Value::map(data))
        .map_err(|e| TemplateError(e.to_string()))
}

#[derive(Debug)]
struct AutomationObject {
    namespace: String,
    name: String,
}

impl Object for AutomationObject {
    fn type_name(&self) -> &'static str {
        "types.NamespacedName"
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Name" => Some(Value::str(self.name.as_str())),
            "Namespace" => Some(Value::str(self.namespace.as_str())),
            _ => None,
        }
    }
    fn print(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

#[derive(Debug)]
struct Changed(UpdateResult);

impl Object for Changed {
    fn type_name(&self) -> &'static str {
        "update.Result"
    }
    fn field(&self, name: &str) -> Option<Value> {
        (name == "FileChanges")
            .then(|| Value::Object(Arc::new(FileChanges(self.0.file_changes.clone())) as _))
    }
    fn method_arity(&self, name: &str) -> Option<usize> {
        matches!(name, "Changes" | "Objects").then_some(0)
    }
    fn call(&self, name: &str, _args: Vec<Value>) -> Result<Value, String> {
        match name {
            "Changes" => Ok(change_list(&self.0.changes())),
            "Objects" => Ok(Value::Object(Arc::new(ObjectChanges(self.0.objects())) as _)),
            _ => Err(format!("{name} is not a method")),
        }
    }
    fn print(&self) -> String {
        format!("{{map[{}]}}", self.0.file_changes.len())
    }
}

fn change_list(changes: &[Change]) -> Value {
    Value::list(
        changes
            .iter()
            .map(|c| Value::Object(Arc::new(ChangeValue(c.clone())) as _))
            .collect(),
    )
}

/// `update.FileChanges`: file name -> object changes.
#[derive(Debug)]
struct FileChanges(BTreeMap<String, BTreeMap<ObjectIdentifier, Vec<Change>>>);

impl Object for FileChanges {
    fn type_name(&self) -> &'static str {
        "update.FileChanges"
    }
    fn field(&self, _name: &str) -> Option<Value> {
        None
    }
    fn print(&self) -> String {
        format!("map[{} files]", self.0.len())
    }
    fn entries(&self) -> Option<Vec<(Value, Value)>> {
        Some(
            self.0
                .iter()
                .map(|(file, objects)| {
                    (
                        Value::str(file.as_str()),
                        Value::Object(Arc::new(ObjectChanges(objects.clone())) as _),
                    )
                })
                .collect(),
        )
    }
}

#[derive(Debug)]
struct ObjectChanges(BTreeMap<ObjectIdentifier, Vec<Change>>);

impl Object for ObjectChanges {
    fn type_name(&self) -> &'static str {
        "update.ObjectChanges"
    }
    fn field(&self, _name: &str) -> Option<Value> {
        None
    }
    fn print(&self) -> String {
        format!("map[{} objects]", self.0.len())
    }
    fn entries(&self) -> Option<Vec<(Value, Value)>> {
        Some(
            self.0
                .iter()
                .map(|(id, changes)| {
                    (
                        Value::Object(Arc::new(Identifier(id.clone())) as _),
                        change_list(changes),
                    )
                })
                .collect(),
        )
    }
}

#[derive(Debug)]
struct Identifier(ObjectIdentifier);

impl Object for Identifier {
    fn type_name(&self) -> &'static str {
        "update.ObjectIdentifier"
    }
    fn field(&self, name: &str) -> Option<Value> {
        let id = &self.0;
        let text = match name {
            "Name" => &id.name,
            "Namespace" => &id.namespace,
            "APIVersion" => &id.api_version,
            "Kind" => &id.kind,
            _ => return None,
        };
        Some(Value::str(text.as_str()))
    }
    fn print(&self) -> String {
        let id = &self.0;
        format!(
            "{{{{{} {}}} {{{} {}}}}}",
            id.api_version, id.kind, id.name, id.namespace
        )
    }
}

#[derive(Debug)]
struct ChangeValue(Change);

impl Object for ChangeValue {
    fn type_name(&self) -> &'static str {
        "update.Change"
    }
    fn field(&self, name: &str) -> Option<Value> {
        let c = &self.0;
        match name {
            "OldValue" => Some(Value::str(c.old_value.as_str())),
            "NewValue" => Some(Value::str(c.new_value.as_str())),
            "Setter" => Some(Value::str(c.setter.as_str())),
            _ => None,
        }
    }
    fn print(&self) -> String {
        let c = &self.0;
        format!("{{{} {} {}}}", c.old_value, c.new_value, c.setter)
    }
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
