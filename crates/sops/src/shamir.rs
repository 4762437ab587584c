//! Shamir's secret sharing over GF(2^8) with the AES polynomial, as sops
//! splits a data key across key groups: every share is the y values of its
//! polynomial, followed by one byte holding its x coordinate.

/// Multiplication in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1.
fn mul(mut a: u8, mut b: u8) -> u8 {
    let mut acc = 0u8;
    while b != 0 {
        if b & 1 != 0 {
            acc ^= a;
        }
        let carry = a & 0x80 != 0;
        a <<= 1;
        if carry {
            a ^= 0x1b;
        }
        b >>= 1;
    }
    acc
}

/// The inverse of a non-zero element: a^254.
fn inv(a: u8) -> u8 {
    let mut result = 1u8;
    let mut base = a;
    let mut exp = 254u8;
    while exp != 0 {
        if exp & 1 != 0 {
            result = mul(result, base);
        }
        base = mul(base, base);
        exp >>= 1;
    }
    result
}

/// Rebuilds the secret from at least two shares (Lagrange interpolation at 0).
pub(crate) fn combine(shares: &[Vec<u8>]) -> Result<Vec<u8>, &'static str> {
    let first = shares.first().ok_or("no shares")?;
    if shares.len() < 2 {
        return Err("less than two parts cannot be used to reconstruct the secret");
    }
    if first.len() < 2 {
        return Err("parts must be at least two bytes");
    }
    if shares.iter().any(|s| s.len() != first.len()) {
        return Err("all parts must be the same length");
    }
    let xs: Vec<u8> = shares.iter().map(|s| s[s.len() - 1]).collect();
    for (i, x) in xs.iter().enumerate() {
        if xs[..i].contains(x) {
            return Err("duplicate part detected");
        }
    }
    let mut secret = vec![0u8; first.len() - 1];
    for (idx, out) in secret.iter_mut().enumerate() {
        let mut acc = 0u8;
        for (i, share) in shares.iter().enumerate() {
            let mut basis = 1u8;
            for (j, xj) in xs.iter().enumerate() {
                if i != j {
                    // (0 - xj) / (xi - xj); subtraction is XOR.
                    basis = mul(basis, mul(*xj, inv(xs[i] ^ xj)));
                }
            }
            acc ^= mul(share[idx], basis);
        }
        *out = acc;
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits with a fixed polynomial, for checking `combine`.
    fn split(secret: &[u8], coeffs: &[u8], xs: &[u8]) -> Vec<Vec<u8>> {
        xs.iter()
            .map(|&x| {
                let mut share: Vec<u8> = secret
                    .iter()
                    .map(|&s| {
                        // s + c1*x + c2*x^2 ...
                        let mut y = 0u8;
                        for &c in coeffs.iter().rev() {
                            y = mul(y, x) ^ c;
                        }
                        mul(y, x) ^ s
                    })
                    .collect();
                share.push(x);
                share
            })
            .collect()
    }

    #[test]
    fn any_two_shares_of_a_degree_one_split_rebuild_the_secret() {
        let secret = b"0123456789abcdef0123456789abcdef".to_vec();
        let shares = split(&secret, &[0x53], &[1, 7, 200]);
        assert_eq!(combine(&shares[..2]).expect("combine"), secret);
        assert_eq!(combine(&shares[1..]).expect("combine"), secret);
    }

    #[test]
    fn every_nonzero_element_has_an_inverse() {
        for a in 1..=255u8 {
            assert_eq!(mul(a, inv(a)), 1, "{a}");
        }
    }
}
