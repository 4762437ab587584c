//! Decrypts a tree in place and computes its MAC, walking it in sops's order:
//! mapping keys become the path (the additional data of each value),
//! comments are decrypted where they stand and stay out of the MAC.

use sha2::{Digest, Sha512};

use crate::cipher::{self, CipherError};
use crate::error::SopsError;
use crate::metadata::Metadata;
use crate::tree::{Branch, Comment, Key, Value};

/// The bytes sops hashes first when `mac_only_encrypted` is set, so that such
/// a MAC never equals the one over all values.
const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

struct Walker<'a> {
    meta: &'a Metadata,
    key: &'a [u8; 32],
    hash: Sha512,
    path: Vec<String>,
    /// Comments seen at each nesting level since the last value (for the comment regexes).
    comments: Vec<Vec<String>>,
}

/// Decrypts every branch (document) and returns the MAC sops would compute,
/// upper-case hex of SHA-512.
pub(crate) fn decrypt_branches(
    branches: &mut [Branch],
    meta: &Metadata,
    key: &[u8; 32],
) -> Result<String, SopsError> {
    let mut w = Walker {
        meta,
        key,
        hash: Sha512::new(),
        path: Vec::new(),
        comments: Vec::new(),
    };
    if meta.mac_only_encrypted {
        w.hash.update(MAC_ONLY_ENCRYPTED_INIT);
    }
    for branch in branches {
        w.branch(branch)?;
    }
    Ok(hex::encode_upper(w.hash.finalize()))
}

/// Decrypts the stored MAC and compares it with the computed one.
pub(crate) fn verify_mac(meta: &Metadata, key: &[u8; 32], computed: &str) -> Result<(), SopsError> {
    let stored = match cipher::decrypt(&meta.mac, key, &meta.last_modified) {
        Ok(Value::Str(s)) => s,
        Ok(_) => return Err(SopsError::Mac("the MAC is not a string".into())),
        Err(CipherError::Malformed) => {
            return Err(SopsError::Mac(
                "the MAC does not match sops' data format".into(),
            ));
        }
        Err(CipherError::Auth) => {
            return Err(SopsError::Mac(
                "authentication failed (wrong data key or altered MAC/lastmodified)".into(),
            ));
        }
        Err(CipherError::Type(t)) => return Err(SopsError::Mac(t)),
    };
    if stored != computed {
        let file = if stored.is_empty() {
            "no MAC".to_owned()
        } else {
            stored
        };
        return Err(SopsError::MacMismatch {
            file,
            computed: computed.to_owned(),
        });
    }
    Ok(())
}

impl Walker<'_> {
    fn branch(&mut self, branch: &mut Branch) -> Result<(), SopsError> {
        self.comments.push(Vec::new());
        for item in branch.iter_mut() {
            match &mut item.key {
                Key::Comment(c) => {
                    self.push_comment(&c.text);
                    self.comment(c);
                }
                Key::Str(k) => {
                    let value_is_comment = matches!(item.value, Value::Comment(_));
                    if let Value::Comment(c) = &item.value {
                        self.push_comment(&c.text);
                    }
                    self.path.push(k.clone());
                    let r = self.value(&mut item.value);
                    self.path.pop();
                    r?;
                    if !value_is_comment {
                        self.clear_comments();
                    }
                }
            }
        }
        self.comments.pop();
        Ok(())
    }

    fn seq(&mut self, items: &mut [Value]) -> Result<(), SopsError> {
        self.comments.push(Vec::new());
        for v in items.iter_mut() {
            let is_comment = matches!(v, Value::Comment(_));
            if let Value::Comment(c) = v {
                self.push_comment(&c.text);
            }
            self.value(v)?;
            if !is_comment {
                self.clear_comments();
            }
        }
        self.comments.pop();
        Ok(())
    }

    fn push_comment(&mut self, text: &str) {
        if let Some(level) = self.comments.last_mut() {
            level.push(text.to_owned());
        }
    }

    fn clear_comments(&mut self) {
        if let Some(level) = self.comments.last_mut() {
            level.clear();
        }
    }

    fn value(&mut self, v: &mut Value) -> Result<(), SopsError> {
        match v {
            Value::Map(b) => self.branch(b),
            Value::Seq(items) => self.seq(items),
            Value::Null => Ok(()),
            Value::Comment(c) => {
                self.comment(c);
                Ok(())
            }
            _ => self.leaf(v),
        }
    }

    fn aad(&self) -> String {
        let mut s = self.path.join(":");
        s.push(':');
        s
    }

    /// Decrypts a comment in place. A comment that does not decrypt is kept
    /// as it is (sops assumes it was never encrypted); comments are not in
    /// the MAC, so a wrong guess cannot hide tampering with values.
    fn comment(&mut self, c: &mut Comment) {
        if !self.should_encrypt(true) || !cipher::is_enc(&c.text) {
            return;
        }
        // Where a comment belongs is a reading of the layout; try the
        // enclosing paths from the innermost outwards.
        for depth in (0..=self.path.len()).rev() {
            let mut aad = self.path[..depth].join(":");
            aad.push(':');
            match cipher::decrypt(&c.text, self.key, &aad) {
                Ok(Value::Comment(d)) => {
                    // sops replaces the comment with the decrypted one, which
                    // is no longer inline: it prints above its entry.
                    *c = d;
                    return;
                }
                Ok(Value::Str(s)) => {
                    c.text = s;
                    return;
                }
                _ => {}
            }
        }
    }

    fn leaf(&mut self, v: &mut Value) -> Result<(), SopsError> {
        let encrypted = self.should_encrypt(false);
        if encrypted {
            let Value::Str(text) = &*v else {
                return Err(SopsError::Value {
                    path: self.path.join(":"),
                    reason: "expected an encrypted value (a string)".into(),
                });
            };
            let plain = cipher::decrypt(text, self.key, &self.aad()).map_err(|e| {
                let path = self.path.join(":");
                match e {
                    CipherError::Malformed => SopsError::Malformed { path },
                    CipherError::Auth => SopsError::Decrypt { path },
                    CipherError::Type(reason) => SopsError::Value { path, reason },
                }
            })?;
            *v = plain;
        }
        if (!self.meta.mac_only_encrypted || encrypted)
            && let Some(bytes) = v.mac_bytes()
        {
            self.hash.update(bytes);
        }
        Ok(())
    }

    /// sops's `shouldBeEncrypted`: the rules are checked against every key on
    /// the path and the comments above the value.
    fn should_encrypt(&self, is_comment: bool) -> bool {
        let r = &self.meta.rules;
        let mut encrypted = true;
        if let Some(suffix) = &r.unencrypted_suffix
            && self.path.iter().any(|p| p.ends_with(suffix.as_str()))
        {
            encrypted = false;
        }
        if let Some(suffix) = &r.encrypted_suffix {
            encrypted = self.path.iter().any(|p| p.ends_with(suffix.as_str()));
        }
        if let Some(re) = &r.unencrypted_regex
            && self.path.iter().any(|p| re.is_match(p))
        {
            encrypted = false;
        }
        if let Some(re) = &r.encrypted_regex {
            encrypted = self.path.iter().any(|p| re.is_match(p));
        }
        if let Some(re) = &r.unencrypted_comment_regex
            && self.comments.iter().flatten().any(|c| re.is_match(c))
        {
            encrypted = false;
        }
        if let Some(re) = &r.encrypted_comment_regex {
            let last_level = self.comments.len().saturating_sub(1);
            let last_len = self.comments.last().map_or(0, Vec::len);
            encrypted = self.comments.iter().enumerate().any(|(i, level)| {
                level.iter().enumerate().any(|(j, c)| {
                    // The comment that matches is itself left in clear.
                    let is_self = is_comment && i == last_level && j + 1 == last_len;
                    !is_self && re.is_match(c)
                })
            });
        }
        encrypted
    }
}
