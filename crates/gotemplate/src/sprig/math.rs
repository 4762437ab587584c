//! Sprig's arithmetic: integer functions return int64, the `f` variants float64.

use super::conv::{to_float64, to_int64};
use crate::funcs::{FuncMap, Ty};
use crate::value::Value;

const DIV_ZERO: &str = "runtime error: integer divide by zero";

pub fn register(m: &mut FuncMap) {
    m.add("add", &[], Some(Ty::Any), |a| {
        Ok(Value::Int64(
            a.iter().map(to_int64).fold(0i64, i64::wrapping_add),
        ))
    });
    m.add("add1", &[Ty::Any], None, |a| {
        Ok(Value::Int64(to_int64(&a[0]).wrapping_add(1)))
    });
    m.add("sub", &[Ty::Any, Ty::Any], None, |a| {
        Ok(Value::Int64(to_int64(&a[0]).wrapping_sub(to_int64(&a[1]))))
    });
    m.add("mul", &[Ty::Any], Some(Ty::Any), |a| {
        Ok(Value::Int64(
            a.iter().map(to_int64).fold(1i64, i64::wrapping_mul),
        ))
    });
    m.add("div", &[Ty::Any, Ty::Any], None, |a| {
        let d = to_int64(&a[1]);
        if d == 0 {
            return Err(DIV_ZERO.into());
        }
        Ok(Value::Int64(to_int64(&a[0]).wrapping_div(d)))
    });
    m.add("mod", &[Ty::Any, Ty::Any], None, |a| {
        let d = to_int64(&a[1]);
        if d == 0 {
            return Err(DIV_ZERO.into());
        }
        Ok(Value::Int64(to_int64(&a[0]).wrapping_rem(d)))
    });
    m.add("max", &[Ty::Any], Some(Ty::Any), |a| {
        Ok(Value::Int64(a.iter().map(to_int64).max().unwrap_or(0)))
    });
    m.add("min", &[Ty::Any], Some(Ty::Any), |a| {
        Ok(Value::Int64(a.iter().map(to_int64).min().unwrap_or(0)))
    });
    m.add("addf", &[], Some(Ty::Any), |a| {
        Ok(Value::Float(dec_sum(&a)))
    });
    m.add("add1f", &[Ty::Any], None, |a| {
        Ok(Value::Float(dec_round(to_float64(&a[0]) + 1.0)))
    });
    m.add("subf", &[Ty::Any], Some(Ty::Any), |a| {
        let mut r = to_float64(&a[0]);
        for x in &a[1..] {
            r = dec_round(r - to_float64(x));
        }
        Ok(Value::Float(r))
    });
    m.add("mulf", &[Ty::Any], Some(Ty::Any), |a| {
        let mut r = to_float64(&a[0]);
        for x in &a[1..] {
            r = dec_round(r * to_float64(x));
        }
        Ok(Value::Float(r))
    });
    m.add("divf", &[Ty::Any], Some(Ty::Any), |a| {
        let mut r = to_float64(&a[0]);
        for x in &a[1..] {
            let d = to_float64(x);
            if d == 0.0 {
                return Err("decimal division by 0".into());
            }
            r = dec_round(r / d);
        }
        Ok(Value::Float(r))
    });
    m.add("maxf", &[Ty::Any], Some(Ty::Any), |a| {
        Ok(Value::Float(
            a.iter().map(to_float64).fold(f64::NEG_INFINITY, f64::max),
        ))
    });
    m.add("minf", &[Ty::Any], Some(Ty::Any), |a| {
        Ok(Value::Float(
            a.iter().map(to_float64).fold(f64::INFINITY, f64::min),
        ))
    });
    m.add("floor", &[Ty::Any], None, |a| {
        Ok(Value::Float(to_float64(&a[0]).floor()))
    });
    m.add("ceil", &[Ty::Any], None, |a| {
        Ok(Value::Float(to_float64(&a[0]).ceil()))
    });
    m.add("round", &[Ty::Any, Ty::Int], Some(Ty::Float), |a| {
        let x = to_float64(&a[0]);
        let p = a[1].as_int().unwrap_or(0) as i32;
        let r = match a.get(2) {
            Some(Value::Float(f)) => *f,
            _ => 0.5,
        };
        let pow = 10f64.powi(p);
        let digit = pow * x;
        let rounded = if digit.fract() >= r {
            digit.ceil()
        } else {
            digit.floor()
        };
        Ok(Value::Float(rounded / pow))
    });
    m.add("int", &[Ty::Any], None, |a| Ok(Value::Int(to_int64(&a[0]))));
    m.add("int64", &[Ty::Any], None, |a| {
        Ok(Value::Int64(to_int64(&a[0])))
    });
    m.add("float64", &[Ty::Any], None, |a| {
        Ok(Value::Float(to_float64(&a[0])))
    });
    m.add("atoi", &[Ty::Str], None, |a| {
        let s = a[0].as_str().unwrap_or_default();
        Ok(Value::Int(s.parse::<i64>().unwrap_or(0)))
    });
    m.add("toDecimal", &[Ty::Any], None, |a| {
        let s = super::conv::strval(&a[0]);
        Ok(Value::Int64(i64::from_str_radix(&s, 8).unwrap_or(0)))
    });
    m.add("seq", &[], Some(Ty::Int), |a| {
        let p: Vec<i64> = a.iter().map(|v| v.as_int().unwrap_or(0)).collect();
        let (start, step, end) = match p.as_slice() {
            [] => return Ok(Value::str("")),
            [e] => (1, 1, *e),
            [s, e] => (*s, if s <= e { 1 } else { -1 }, *e),
            [s, st, e, ..] => (*s, *st, *e),
        };
        let mut out = Vec::new();
        if step == 0 || (step > 0 && start > end) || (step < 0 && start < end) {
            return Ok(Value::str(""));
        }
        let mut i = start;
        while (step > 0 && i <= end) || (step < 0 && i >= end) {
            if out.len() >= 10_000_000 {
                return Err("seq: too many elements".into());
            }
            out.push(i.to_string());
            i += step;
        }
        Ok(Value::str(out.join(" ")))
    });
}

/// shopspring/decimal addition of float64s, read back as float64.
fn dec_sum(a: &[Value]) -> f64 {
    let mut r = 0.0;
    for x in a {
        r = dec_round(r + to_float64(x));
    }
    r
}

/// Decimal arithmetic gives the shortest decimal of the exact result;
/// rounding the binary result to 15 significant digits matches it for
/// everyday operands.
fn dec_round(x: f64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    format!("{:.14e}", x).parse().unwrap_or(x)
}
