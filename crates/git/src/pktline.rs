//! Git's pkt-line framing for the requests this crate writes itself (receive-pack commands
//! and push options): four hex digits of length including themselves, then the payload;
//! `0000` is a flush. Responses are read through gix's packet-line reader.

/// The largest payload one pkt-line may carry (65520 bytes minus the 4-byte header).
pub const MAX_DATA_LEN: usize = 65516;

/// A payload that does not fit one pkt-line.
#[derive(Debug, thiserror::Error)]
#[error("pkt-line payload of {len} bytes exceeds the maximum of {MAX_DATA_LEN}")]
pub struct TooLong {
    pub len: usize,
}

/// Append one data pkt-line carrying `payload`.
pub fn data(out: &mut Vec<u8>, payload: &[u8]) -> Result<(), TooLong> {
    if payload.len() > MAX_DATA_LEN {
        return Err(TooLong { len: payload.len() });
    }
    out.extend_from_slice(format!("{:04x}", payload.len() + 4).as_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// Append a flush-pkt (`0000`).
pub fn flush(out: &mut Vec<u8>) {
    out.extend_from_slice(b"0000");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_line_is_prefixed_with_its_length_in_hex_including_the_prefix() {
        let mut out = Vec::new();
        data(&mut out, b"hello\n").expect("fits");
        flush(&mut out);
        assert_eq!(out, b"000ahello\n0000");
    }

    #[test]
    fn an_empty_payload_is_distinct_from_a_flush() {
        let mut out = Vec::new();
        data(&mut out, b"").expect("fits");
        assert_eq!(out, b"0004");
    }

    #[test]
    fn a_payload_over_the_limit_is_refused() {
        let mut out = Vec::new();
        assert!(data(&mut out, &vec![b'x'; MAX_DATA_LEN]).is_ok());
        let err = data(&mut out, &vec![b'x'; MAX_DATA_LEN + 1]).expect_err("too long");
        assert_eq!(err.len, MAX_DATA_LEN + 1);
    }
}
