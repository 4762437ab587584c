//! The change set of one apply or prune, formatted as `fluxcd/pkg/ssa` formats it for events and
//! logs: one `Kind/namespace/name action` line per object.

use std::fmt;

use crate::object::ObjMetadata;

/// What happened to one object; spelled as `ssa.Action`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Created,
    Configured,
    Unchanged,
    Deleted,
    Skipped,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Configured => "configured",
            Action::Unchanged => "unchanged",
            Action::Deleted => "deleted",
            Action::Skipped => "skipped",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeSetEntry {
    pub object: ObjMetadata,
    /// API version without the group, kept for the inventory entry's `v`.
    pub version: String,
    pub action: Action,
    /// The object's kstatus as the API server returned it from the apply: a health wait's
    /// first observation, without a read of its own.
    pub observed: Option<crate::wait::ObjectHealth>,
}

impl fmt::Display for ChangeSetEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.object.subject(), self.action)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeSet {
    pub entries: Vec<ChangeSetEntry>,
}

impl ChangeSet {
    pub fn push(&mut self, object: ObjMetadata, version: &str, action: Action) {
        self.entries.push(ChangeSetEntry {
            object,
            version: version.to_string(),
            action,
            observed: None,
        });
    }

    /// Records what the apply of `object` returned (see [`ChangeSetEntry::observed`]).
    pub fn observe(&mut self, object: &ObjMetadata, health: crate::wait::ObjectHealth) {
        if let Some(entry) = self.entries.iter_mut().rev().find(|e| &e.object == object) {
            entry.observed = Some(health);
        }
    }

    /// The health observed at apply time, per object.
    pub fn observations(&self) -> Vec<crate::wait::ObjectHealth> {
        self.entries
            .iter()
            .filter_map(|e| e.observed.clone())
            .collect()
    }

    pub fn extend(&mut self, other: ChangeSet) {
        self.entries.extend(other.entries);
    }

    /// The entry of one object, if it is in the set.
    pub fn action_of(&self, subject: &str) -> Option<Action> {
        self.entries
            .iter()
            .find(|e| e.object.subject() == subject)
            .map(|e| e.action)
    }

    /// Only the entries whose action changed the cluster; Flux sends these in events and
    /// leaves `unchanged`/`skipped` to debug logs.
    pub fn changes(&self) -> ChangeSet {
        ChangeSet {
            entries: self
                .entries
                .iter()
                .filter(|e| {
                    matches!(
                        e.action,
                        Action::Created | Action::Configured | Action::Deleted
                    )
                })
                .cloned()
                .collect(),
        }
    }
}

impl fmt::Display for ChangeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.entries.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(namespace: &str, kind: &str, name: &str) -> ObjMetadata {
        ObjMetadata {
            namespace: namespace.into(),
            name: name.into(),
            group: String::new(),
            kind: kind.into(),
        }
    }

    #[test]
    fn a_change_set_is_one_subject_and_action_per_line_as_flux_prints_it() {
        let mut set = ChangeSet::default();
        set.push(obj("", "Namespace", "apps"), "v1", Action::Created);
        set.push(obj("apps", "ConfigMap", "cfg"), "v1", Action::Configured);
        set.push(obj("apps", "Service", "web"), "v1", Action::Unchanged);
        assert_eq!(
            set.to_string(),
            "Namespace/apps created\nConfigMap/apps/cfg configured\nService/apps/web unchanged"
        );
        assert_eq!(
            set.action_of("ConfigMap/apps/cfg"),
            Some(Action::Configured)
        );
    }

    #[test]
    fn changes_leave_out_unchanged_and_skipped_objects() {
        let mut set = ChangeSet::default();
        set.push(obj("a", "ConfigMap", "x"), "v1", Action::Unchanged);
        set.push(obj("a", "ConfigMap", "y"), "v1", Action::Skipped);
        set.push(obj("a", "ConfigMap", "z"), "v1", Action::Deleted);
        assert_eq!(set.changes().to_string(), "ConfigMap/a/z deleted");
    }
}
