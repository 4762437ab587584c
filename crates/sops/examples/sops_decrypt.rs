//! `cargo run -p driftless-sops --example sops_decrypt -- FILE KEYFILE...`:
//! decrypts FILE (format from its extension) with the given `*.agekey` /
//! `*.asc` key files and prints the result, for hand comparison with
//! `sops -d` and rough timing.

use std::collections::BTreeMap;
use std::io::Write as _;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let file = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: sops_decrypt FILE KEYFILE..."))?;
    let mut data = BTreeMap::new();
    for key in args {
        let name = std::path::Path::new(&key)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        data.insert(name, std::fs::read(&key)?);
    }
    let keys = driftless_sops::Keyring::from_secret_data(&data)?;
    let input = std::fs::read(&file)?;
    let out = driftless_sops::decrypt(&input, driftless_sops::Format::from_path(&file), &keys)?;
    std::io::stdout().write_all(&out)?;
    Ok(())
}
