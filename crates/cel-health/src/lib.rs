//! CEL for `spec.healthCheckExprs` (Kustomization and HelmRelease) and
//! `spec.dependsOn[].readyExpr`, with Flux's rules (fluxcd/pkg `runtime/cel`, RFC-0009):
//! expressions are parsed once per reconcile, evaluated over JSON objects, and every error names
//! the expression so the user can find it in the spec. [`HealthRules`] is a
//! [`driftless_ssa::wait::StatusReader`], so the ssa crate's wait applies them.
//!
//! Health: an object whose `status.observedGeneration` differs from `metadata.generation` is
//! InProgress without evaluating anything; otherwise `inProgress`, `failed`, `current` are tried in
//! that order and the first one true decides; none true is InProgress. An evaluation error (a
//! missing field, a non-boolean result) is reported for that object, which is then not ready, so
//! the health check waits until its timeout, as Flux's doc warns.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use cel::common::ast::{EntryExpr, Expr, MapExpr, StructExpr};
use cel::{Context, Env, IdedExpr, Program, Value as CelValue};
use driftless_api::apply::CustomHealthCheck;
use driftless_ssa::kstatus::Status;
use driftless_ssa::wait::StatusReader;
use serde_json::Value;

/// The environment every expression is parsed and run in: the standard library plus the strings
/// and encoders extensions Flux enables (`ext.Strings`, `ext.Encoders`).
static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| {
    let mut env = Env::stdlib();
    // Registering the built-in extensions on a fresh environment cannot conflict; if a future
    // crate version made it fail, expressions using them report an undeclared function instead.
    let _ = env.add_extension(cel::extensions::strings);
    let _ = env.add_extension(cel::extensions::encoders);
    Arc::new(env)
});

/// Why an expression could not be used; messages as Flux words them (users compare them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CelError {
    /// The expression does not parse, or uses a variable that is not declared.
    #[error("failed to parse the CEL expression '{expr}': {message}")]
    Parse {
        /// The expression as written.
        expr: String,
        /// The parser's message, with position.
        message: String,
    },
    /// Running the expression failed (a missing key, a type error).
    #[error("failed to evaluate the CEL expression '{expr}': {message}")]
    Evaluate {
        /// The expression as written.
        expr: String,
        /// What went wrong.
        message: String,
    },
    /// The expression ran but did not return a boolean.
    #[error("failed to evaluate CEL expression as boolean: '{expr}'")]
    NotBoolean {
        /// The expression as written.
        expr: String,
    },
}

/// A parsed CEL expression.
#[derive(Debug)]
pub struct Expression {
    source: String,
    program: Program,
}

impl Expression {
    /// Parses `expr` without declaring variables: any name may be looked up at evaluation time
    /// (health expressions, whose variables are the object's own top-level fields).
    pub fn parse(expr: &str) -> Result<Self, CelError> {
        let program = ENV.compile(expr).map_err(|e| CelError::Parse {
            expr: expr.to_owned(),
            message: e.to_string(),
        })?;
        Ok(Self {
            source: expr.to_owned(),
            program,
        })
    }

    /// Parses `expr` and rejects any free variable other than `declared`, as cel-go's compile step
    /// does for declared variables (`readyExpr` knows only `self` and `dep`).
    pub fn compile(expr: &str, declared: &[&str]) -> Result<Self, CelError> {
        let parsed = Self::parse(expr)?;
        let mut free = Vec::new();
        free_variables(parsed.program.expression(), &mut Vec::new(), &mut free);
        if let Some(unknown) = free
            .into_iter()
            .find(|name| !declared.contains(&name.as_str()))
        {
            return Err(CelError::Parse {
                expr: expr.to_owned(),
                message: format!("undeclared reference to '{unknown}'"),
            });
        }
        Ok(parsed)
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates with `variables` bound and expects a boolean.
    pub fn evaluate_bool(&self, variables: &[(&str, &Value)]) -> Result<bool, CelError> {
        let mut context = Context::with_env(Arc::clone(&ENV));
        for (name, value) in variables {
            context.add_variable_from_value(*name, to_cel(value));
        }
        match self.program.execute(&context) {
            Ok(CelValue::Bool(result)) => Ok(result),
            Ok(_) => Err(CelError::NotBoolean {
                expr: self.source.clone(),
            }),
            Err(e) => Err(CelError::Evaluate {
                expr: self.source.clone(),
                message: e.to_string(),
            }),
        }
    }

    /// Evaluates with the top-level fields of `object` as variables (`status`, `metadata`, …).
    pub fn evaluate_on(&self, object: &Value) -> Result<bool, CelError> {
        let fields: Vec<(&str, &Value)> = object
            .as_object()
            .map(|map| map.iter().map(|(k, v)| (k.as_str(), v)).collect())
            .unwrap_or_default();
        self.evaluate_bool(&fields)
    }
}

/// The identifiers of `expr` not bound by an enclosing comprehension (`e` in `filter(e, …)`).
fn free_variables(expr: &IdedExpr, bound: &mut Vec<String>, free: &mut Vec<String>) {
    match &expr.expr {
        Expr::Ident(name) => {
            // Names starting with '@' are the parser's own accumulators.
            if !name.starts_with('@') && !bound.contains(name) && !free.contains(name) {
                free.push(name.clone());
            }
        }
        Expr::Call(call) => {
            for e in call.target.iter().map(AsRef::as_ref).chain(&call.args) {
                free_variables(e, bound, free);
            }
        }
        Expr::Comprehension(comp) => {
            free_variables(&comp.iter_range, bound, free);
            free_variables(&comp.accu_init, bound, free);
            let depth = bound.len();
            bound.push(comp.iter_var.clone());
            bound.extend(comp.iter_var2.clone());
            bound.push(comp.accu_var.clone());
            for e in [&comp.loop_cond, &comp.loop_step, &comp.result] {
                free_variables(e, bound, free);
            }
            bound.truncate(depth);
        }
        Expr::List(list) => list
            .elements
            .iter()
            .for_each(|e| free_variables(e, bound, free)),
        Expr::Map(MapExpr { entries }) | Expr::Struct(StructExpr { entries, .. }) => {
            for entry in entries {
                match &entry.expr {
                    EntryExpr::StructField(field) => free_variables(&field.value, bound, free),
                    EntryExpr::MapEntry(pair) => {
                        free_variables(&pair.key, bound, free);
                        free_variables(&pair.value, bound, free);
                    }
                }
            }
        }
        Expr::Select(select) => free_variables(&select.operand, bound, free),
        Expr::Literal(_) | Expr::Unspecified => {}
    }
}

/// JSON to CEL: whole numbers that fit are `int` (Kubernetes' integers), others `uint`/`double`.
fn to_cel(value: &Value) -> CelValue {
    match value {
        Value::Null => CelValue::Null,
        Value::Bool(b) => CelValue::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => CelValue::Int(i),
            (None, Some(u), _) => CelValue::UInt(u),
            (_, _, f) => CelValue::Float(f.unwrap_or(f64::NAN)),
        },
        Value::String(s) => CelValue::String(Arc::new(s.clone())),
        Value::Array(items) => CelValue::List(Arc::new(items.iter().map(to_cel).collect())),
        Value::Object(map) => {
            let entries: HashMap<String, CelValue> =
                map.iter().map(|(k, v)| (k.clone(), to_cel(v))).collect();
            CelValue::from(entries)
        }
    }
}

/// The three expressions of one `healthCheckExprs` entry.
#[derive(Debug)]
pub struct StatusEvaluator {
    current: Expression,
    failed: Option<Expression>,
    in_progress: Option<Expression>,
}

impl StatusEvaluator {
    /// Parses the expressions of `check`; the error names which one failed.
    pub fn new(check: &CustomHealthCheck) -> Result<Self, String> {
        let optional = |expr: Option<&str>, name: &str| {
            expr.filter(|e| !e.is_empty())
                .map(|e| {
                    Expression::parse(e)
                        .map_err(|err| format!("failed to parse the expression {name}: {err}"))
                })
                .transpose()
        };
        if check.current.is_empty() {
            return Err("expression Current not specified".to_owned());
        }
        let current = Expression::parse(&check.current)
            .map_err(|err| format!("failed to parse the expression Current: {err}"))?;
        Ok(Self {
            failed: optional(check.failed.as_deref(), "Failed")?,
            in_progress: optional(check.in_progress.as_deref(), "InProgress")?,
            current,
        })
    }

    /// The status of `object` (RFC-0009 order: generation, inProgress, failed, current).
    pub fn evaluate(&self, object: &Value) -> Result<Status, CelError> {
        let observed = object
            .pointer("/status/observedGeneration")
            .and_then(Value::as_i64);
        let generation = object
            .pointer("/metadata/generation")
            .and_then(Value::as_i64);
        if let (Some(observed), Some(generation)) = (observed, generation)
            && observed != generation
        {
            return Ok(Status::InProgress);
        }
        let ordered = [
            (self.in_progress.as_ref(), Status::InProgress),
            (self.failed.as_ref(), Status::Failed),
            (Some(&self.current), Status::Current),
        ];
        for (expr, status) in ordered {
            if let Some(expr) = expr
                && expr.evaluate_on(object)?
            {
                return Ok(status);
            }
        }
        Ok(Status::InProgress)
    }
}

/// The parsed `spec.healthCheckExprs` of one Kustomization or HelmRelease.
#[derive(Debug, Default)]
pub struct HealthRules {
    /// (group, kind or None for the whole group, evaluator), first entry per key only.
    rules: Vec<(String, Option<String>, StatusEvaluator)>,
}

impl HealthRules {
    /// Parses every entry; the first that fails to parse is the error, with its index.
    /// Entries are matched on the group of `apiVersion`; for a repeated group and kind the first
    /// entry is used, as Flux's poller keeps the first status reader per GroupKind.
    pub fn new(checks: &[CustomHealthCheck]) -> Result<Self, String> {
        let mut rules: Vec<(String, Option<String>, StatusEvaluator)> = Vec::new();
        for (i, check) in checks.iter().enumerate() {
            let evaluator = StatusEvaluator::new(check).map_err(|e| {
                format!("failed to create custom status reader for healthchecks[{i}]: {e}")
            })?;
            let group = group_of(&check.api_version);
            let kind = check.kind.clone().filter(|k| !k.is_empty());
            if !rules.iter().any(|(g, k, _)| *g == group && *k == kind) {
                rules.push((group, kind, evaluator));
            }
        }
        Ok(Self { rules })
    }

    /// No expressions configured.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The evaluator for objects of `group` and `kind`: an entry naming the kind wins over an
    /// entry for the whole group.
    pub fn for_kind(&self, group: &str, kind: &str) -> Option<&StatusEvaluator> {
        let exact = self
            .rules
            .iter()
            .find(|(g, k, _)| g == group && k.as_deref() == Some(kind));
        exact
            .or_else(|| {
                self.rules
                    .iter()
                    .find(|(g, k, _)| g == group && k.is_none())
            })
            .map(|(_, _, evaluator)| evaluator)
    }
}

impl StatusReader for HealthRules {
    fn covers(&self, group: &str, kind: &str) -> bool {
        self.for_kind(group, kind).is_some()
    }

    /// An evaluation error leaves the object Unknown with the error as message, so the wait
    /// goes on (the object may still get the field) until its timeout, as Flux's doc warns.
    fn status(&self, group: &str, kind: &str, object: &Value) -> (Status, String) {
        match self.for_kind(group, kind).map(|e| e.evaluate(object)) {
            Some(Ok(status)) => (status, String::new()),
            Some(Err(e)) => (Status::Unknown, e.to_string()),
            None => (Status::Unknown, String::new()),
        }
    }
}

/// The group of `group/version` (empty for the core `v1`).
fn group_of(api_version: &str) -> String {
    api_version
        .split_once('/')
        .map(|(group, _)| group.to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
