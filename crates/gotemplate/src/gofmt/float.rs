//! strconv's float formats: %e, %f, %g (and %v's shortest form), %x.

/// The decimal digits of |x| and the position of the decimal point
/// (`0.d1d2... * 10^dp`), shortest round-trip or rounded to `sig` digits.
fn decimal(x: f64, sig: Option<usize>) -> (String, i32) {
    let s = match sig {
        None => format!("{:e}", x.abs()),
        Some(n) => format!("{:.*e}", n.saturating_sub(1), x.abs()),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    if digits == "0" {
        return (digits, 1);
    }
    (digits, exp + 1)
}

fn sign(x: f64) -> &'static str {
    if x.is_sign_negative() { "-" } else { "" }
}

fn exp_suffix(e: i32) -> String {
    let (s, a) = if e < 0 { ('-', -e) } else { ('+', e) };
    format!("e{s}{a:02}")
}

/// `%x` of a float: strconv's shortest hexadecimal mantissa and binary exponent.
pub fn format_hex_float(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let sign = if x.is_sign_negative() { "-" } else { "" };
    if x == 0.0 {
        return format!("{sign}0x0p+00");
    }
    let bits = x.abs().to_bits();
    let mut exp = ((bits >> 52) & 0x7ff) as i64;
    let mut mant = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        // Subnormal: shift until the implicit bit appears.
        exp = 1;
        while mant & (1u64 << 52) == 0 {
            mant <<= 1;
            exp -= 1;
        }
        mant &= (1u64 << 52) - 1;
    }
    let e = exp - 1023;
    let mut digits = format!("{mant:013x}");
    while digits.ends_with('0') {
        digits.pop();
    }
    let frac = if digits.is_empty() {
        String::new()
    } else {
        format!(".{digits}")
    };
    let (es, ea) = if e < 0 { ('-', -e) } else { ('+', e) };
    format!("{sign}0x1{frac}p{es}{ea:02}")
}

/// `%e` with `prec` digits after the point.
pub fn format_e(x: f64, prec: usize) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let s = format!("{:.*e}", prec, x.abs());
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = exp.parse().unwrap_or(0);
    format!("{}{}{}", sign(x), mant, exp_suffix(e))
}

/// `%f` with `prec` digits after the point.
pub fn format_f(x: f64, prec: usize) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    format!("{}{:.*}", sign(x), prec, x.abs())
}

/// `%g` (and `%v` for floats when `prec` is None): strconv's 'g' format.
pub fn format_g(x: f64, prec: Option<usize>, sharp: bool) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let shortest = prec.is_none();
    let sig = prec.map(|p| p.max(1));
    let (digits, dp) = decimal(x, sig);
    let nd = if x == 0.0 { 0 } else { digits.len() as i32 };
    let mut p = match sig {
        None => nd,
        Some(s) => s as i32,
    };
    let mut eprec = p;
    if eprec > nd && nd >= dp {
        eprec = nd;
    }
    if shortest {
        eprec = 6;
    }
    let exp = dp - 1;
    let digits = if x == 0.0 { String::new() } else { digits };
    if x != 0.0 && (exp < -4 || exp >= eprec) {
        if p > nd {
            p = nd;
        }
        let mut out = String::from(sign(x));
        let d: Vec<char> = digits.chars().collect();
        out.push(d.first().copied().unwrap_or('0'));
        let frac = (p - 1).max(0) as usize;
        if frac > 0 || sharp {
            out.push('.');
        }
        for i in 1..=frac {
            out.push(d.get(i).copied().unwrap_or('0'));
        }
        out.push_str(&exp_suffix(exp));
        return out;
    }
    if p > dp {
        p = nd;
    }
    let frac = (p - dp).max(0) as usize;
    let d: Vec<char> = digits.chars().collect();
    let mut out = String::from(sign(x));
    if dp > 0 {
        for i in 0..dp as usize {
            out.push(d.get(i).copied().unwrap_or('0'));
        }
    } else {
        out.push('0');
    }
    if frac > 0 {
        out.push('.');
        for i in 0..frac {
            let idx = dp + i as i32;
            out.push(if idx >= 0 {
                d.get(idx as usize).copied().unwrap_or('0')
            } else {
                '0'
            });
        }
    }
    out
}
