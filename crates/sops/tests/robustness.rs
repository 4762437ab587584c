//! Arbitrary input never panics: every format either decrypts or returns an
//! error.

use driftless_sops::{Format, Keyring, decrypt, decrypt_manifest, is_encrypted};
use proptest::prelude::*;

const FORMATS: [Format; 4] = [Format::Yaml, Format::Json, Format::Dotenv, Format::Binary];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_is_an_error_or_a_result_never_a_panic(text in "\\PC{0,200}") {
        let keys = Keyring::new();
        for f in FORMATS {
            let _ = decrypt(text.as_bytes(), f, &keys);
            let _ = is_encrypted(text.as_bytes(), f);
        }
        let _ = decrypt_manifest(&text, &keys);
    }

    #[test]
    fn yaml_shaped_input_with_sops_metadata_never_panics(
        key in "[a-z]{1,8}",
        value in "(ENC\\[AES256_GCM,data:[A-Za-z0-9+/=]{0,12},iv:[A-Za-z0-9+/=]{0,44},tag:[A-Za-z0-9+/=]{0,24},type:[a-z]{0,7}\\]|[ -~]{0,20})",
        stamp in "[0-9T:Z+-]{0,25}",
    ) {
        let doc = format!(
            "{key}: {value:?}\nsops:\n    age:\n        - recipient: age1x\n          enc: x\n    lastmodified: {stamp:?}\n    mac: {value:?}\n"
        );
        let _ = decrypt(doc.as_bytes(), Format::Yaml, &Keyring::new());
    }
}
