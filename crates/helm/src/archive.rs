//! Packaged charts (`.tgz`): gunzip, untar and the limits Helm enforces,
//! so a hostile archive costs bounded time and memory: 10 MiB packaged,
//! 5 MiB a file, 100 MiB in all once decompressed, no absolute paths and
//! no `..` escapes.

use std::io::Read;

use crate::chart::File;
use crate::error::Error;

/// Largest packaged chart accepted (Flux's and Helm's repository limit).
pub const MAX_CHART_SIZE: u64 = 10 << 20;
/// Largest decompressed chart, all files together.
pub const MAX_DECOMPRESSED_CHART_SIZE: u64 = 100 << 20;
/// Largest single file in a chart.
pub const MAX_FILE_SIZE: u64 = 5 << 20;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Whether `data` starts as a gzip stream.
pub fn is_gzip(data: &[u8]) -> bool {
    data.starts_with(b"\x1F\x8B\x08")
}

/// The files of a packaged chart, named relative to its top directory.
pub fn files(packaged: &[u8]) -> Result<Vec<File>, Error> {
    if packaged.len() as u64 > MAX_CHART_SIZE {
        return Err(Error::Archive(format!(
            "chart archive is larger than the maximum size {MAX_CHART_SIZE}"
        )));
    }
    if !is_gzip(packaged) {
        return Err(Error::Archive("gzip: invalid header".into()));
    }
    let gz = flate2::read::GzDecoder::new(packaged);
    let mut tar = tar::Archive::new(gz);
    let entries = tar.entries().map_err(archive_error)?;
    let mut remaining = MAX_DECOMPRESSED_CHART_SIZE;
    let mut out = Vec::new();
    for entry in entries {
        let mut entry = entry.map_err(archive_error)?;
        let kind = entry.header().entry_type();
        if kind.is_dir() || kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let name = entry_name(&raw)?;
        let size = entry.header().size().map_err(archive_error)?;
        if size > remaining {
            return Err(too_large());
        }
        if size > MAX_FILE_SIZE {
            return Err(Error::Archive(format!(
                "decompressed chart file {raw:?} is larger than the maximum file size {MAX_FILE_SIZE}"
            )));
        }
        let mut data = Vec::with_capacity(size as usize);
        // The header may lie about the size: read at most what is left.
        let read = (&mut entry)
            .take(remaining)
            .read_to_end(&mut data)
            .map_err(archive_error)? as u64;
        remaining -= read;
        if read < size || remaining == 0 {
            return Err(too_large());
        }
        let data = data
            .strip_prefix(UTF8_BOM)
            .map(<[u8]>::to_vec)
            .unwrap_or(data);
        out.push(File { name, data });
    }
    if out.is_empty() {
        return Err(Error::Archive("no files in chart archive".into()));
    }
    Ok(out)
}

fn too_large() -> Error {
    Error::Archive(format!(
        "decompressed chart is larger than the maximum file size {MAX_DECOMPRESSED_CHART_SIZE}"
    ))
}

fn archive_error(e: std::io::Error) -> Error {
    Error::Archive(e.to_string())
}

/// The entry's name below the archive's top directory, refused when it
/// would land outside the chart.
fn entry_name(raw: &str) -> Result<String, Error> {
    let delimiter = if raw.contains('\\') { '\\' } else { '/' };
    let parts: Vec<&str> = raw.split(delimiter).collect();
    if parts[0] == "Chart.yaml" {
        return Err(Error::Archive("chart yaml not in base directory".into()));
    }
    let rest = parts[1..].join("/");
    if rest.starts_with('/') {
        return Err(Error::Archive(
            "chart illegally contains absolute paths".into(),
        ));
    }
    let cleaned = clean(&rest);
    if cleaned == "." {
        return Err(Error::Archive(format!(
            "chart illegally contains content outside the base directory: {raw:?}"
        )));
    }
    if cleaned.starts_with("..") {
        return Err(Error::Archive(
            "chart illegally references parent directory".into(),
        ));
    }
    let b = cleaned.as_bytes();
    if b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'/' {
        return Err(Error::Archive(
            "chart contains illegally named files".into(),
        ));
    }
    Ok(cleaned)
}

/// Go's `path.Clean` for relative paths.
pub(crate) fn clean(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else {
                    out.push("..");
                }
            }
            s => out.push(s),
        }
    }
    if out.is_empty() {
        ".".into()
    } else {
        out.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_the_top_directory_and_are_cleaned() {
        assert_eq!(
            entry_name("c/templates/./a.yaml").ok(),
            Some("templates/a.yaml".into())
        );
    }

    #[test]
    fn a_parent_reference_is_refused() {
        let e = entry_name("c/../../etc/passwd").expect_err("refused");
        assert_eq!(e.to_string(), "chart illegally references parent directory");
    }

    #[test]
    fn the_top_directory_itself_is_refused_as_content_outside() {
        assert!(entry_name("c/..").is_err());
        assert!(entry_name("Chart.yaml").is_err());
    }
}
