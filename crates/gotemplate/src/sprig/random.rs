//! Sprig's random functions, drawing from the execution's seedable source.

use base64::Engine;

use crate::funcs::{Func, FuncMap, Ty};
use crate::value::Value;

const ALPHA: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const DIGITS: &[u8] = b"0123456789";

fn count(v: &Value) -> Result<usize, String> {
    let n = v.as_int().unwrap_or(0);
    if n < 0 {
        return Err(format!(
            "Requested random string length {n} is less than 0."
        ));
    }
    if n > 1 << 20 {
        return Err(format!(
            "Requested random string length {n} is over the limit"
        ));
    }
    Ok(n as usize)
}

fn pick(rng: &mut fastrand::Rng, set: &[u8], n: usize) -> String {
    (0..n)
        .map(|_| set[rng.usize(..set.len())] as char)
        .collect()
}

pub fn register(m: &mut FuncMap) {
    for (name, set) in [
        ("randAlphaNum", ALNUM),
        ("randAlpha", ALPHA),
        ("randNumeric", DIGITS),
    ] {
        m.insert(
            name,
            Func::new(&[Ty::Int], None, move |ex, a| {
                Ok(Value::str(pick(&mut ex.rng, set, count(&a[0])?)))
            }),
        );
    }
    m.insert(
        "randAscii",
        Func::new(&[Ty::Int], None, |ex, a| {
            let n = count(&a[0])?;
            Ok(Value::str(
                (0..n)
                    .map(|_| ex.rng.u8(32..=126) as char)
                    .collect::<String>(),
            ))
        }),
    );
    m.insert(
        "randInt",
        Func::new(&[Ty::Int, Ty::Int], None, |ex, a| {
            let (lo, hi) = (a[0].as_int().unwrap_or(0), a[1].as_int().unwrap_or(0));
            if hi <= lo {
                return Err("invalid argument to Intn".into());
            }
            Ok(Value::Int(ex.rng.i64(lo..hi)))
        }),
    );
    m.insert(
        "randBytes",
        Func::new(&[Ty::Int], None, |ex, a| {
            let n = count(&a[0])?;
            let bytes: Vec<u8> = (0..n).map(|_| ex.rng.u8(..)).collect();
            Ok(Value::str(
                base64::engine::general_purpose::STANDARD.encode(bytes),
            ))
        }),
    );
    m.insert(
        "uuidv4",
        Func::new(&[], None, |ex, _| {
            let mut b: Vec<u8> = (0..16).map(|_| ex.rng.u8(..)).collect();
            b[6] = (b[6] & 0x0f) | 0x40;
            b[8] = (b[8] & 0x3f) | 0x80;
            let h = hex::encode(&b);
            Ok(Value::str(format!(
                "{}-{}-{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..]
            )))
        }),
    );
    m.insert(
        "shuffle",
        Func::new(&[Ty::Str], None, |ex, a| {
            let mut cs: Vec<char> = a[0].as_str().unwrap_or_default().chars().collect();
            ex.rng.shuffle(&mut cs);
            Ok(Value::str(cs.into_iter().collect::<String>()))
        }),
    );
}
