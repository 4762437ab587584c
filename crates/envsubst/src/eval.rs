//! Evaluates parsed nodes against a variable lookup.

use crate::EnvsubstError;
use crate::funcs;
use crate::parse::Node;

pub fn evaluate(
    nodes: &[Node],
    lookup: &dyn Fn(&str) -> Option<String>,
    strict: bool,
    out: &mut Vec<u8>,
) -> Result<(), EnvsubstError> {
    for node in nodes {
        match node {
            Node::Text(text) => out.extend_from_slice(text),
            Node::Expr { op, param, args } => {
                // Arguments are evaluated first, even when the variable is
                // set: `${set:=${unset}}` fails in strict mode, as in Flux.
                let mut values = Vec::with_capacity(args.len());
                for arg in args {
                    let mut value = Vec::new();
                    evaluate(std::slice::from_ref(arg), lookup, strict, &mut value)?;
                    values.push(value);
                }
                let value = match lookup(param) {
                    Some(value) => value,
                    None if strict && !funcs::is_default_op(op) => {
                        return Err(EnvsubstError::VariableNotSet {
                            name: param.clone(),
                        });
                    }
                    None => String::new(),
                };
                out.extend(funcs::apply(op, value.as_bytes(), &values));
            }
        }
    }
    Ok(())
}
