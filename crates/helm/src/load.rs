//! Loading a chart from disk: a directory (walked in name order, symlinks
//! followed, `.helmignore` applied, each file at most 5 MiB) or a packaged
//! `.tgz` (see [`crate::archive`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::archive::{self, MAX_FILE_SIZE};
use crate::chart::{Chart, File};
use crate::error::Error;
use crate::ignore::{HELM_IGNORE, Rules};

/// Loads the chart at `path`: a directory or a packaged chart file.
pub fn load(path: &Path) -> Result<Chart, Error> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Err(Error::Chart(format!(
            "path {:?} not found",
            path.display().to_string()
        )));
    };
    if meta.is_dir() {
        return Chart::from_files(dir_files(path)?);
    }
    let data = std::fs::read(path).map_err(|e| Error::io(path.display(), e))?;
    if !archive::is_gzip(&data) {
        let name = std::path::absolute(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .display()
            .to_string();
        if name.ends_with(".yml") || name.ends_with(".yaml") {
            return Err(Error::Archive(format!(
                "file '{name}' seems to be a YAML file, but expected a gzipped archive"
            )));
        }
        return Err(Error::Archive(format!(
            "file '{name}' does not appear to be a gzipped archive"
        )));
    }
    Chart::from_files(archive::files(&data)?)
}

/// The files of a chart directory, `.helmignore` applied.
pub fn dir_files(top: &Path) -> Result<Vec<File>, Error> {
    let mut rules = Rules::default();
    let ignore_file = top.join(HELM_IGNORE);
    if ignore_file.is_file() {
        let text = std::fs::read_to_string(&ignore_file)
            .map_err(|e| Error::io(ignore_file.display(), e))?;
        rules = Rules::parse(&text).map_err(|message| Error::Ignore {
            file: ignore_file.display().to_string(),
            message,
        })?;
    }
    rules.add_defaults();
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    walk(top, "", &rules, &mut out, &mut seen)?;
    Ok(out)
}

fn walk(
    dir: &Path,
    rel: &str,
    rules: &Rules,
    out: &mut Vec<File>,
    seen: &mut BTreeSet<PathBuf>,
) -> Result<(), Error> {
    // A symlink back up the tree would walk forever; each real directory once.
    let real = std::fs::canonicalize(dir).map_err(|e| Error::io(dir.display(), e))?;
    if !seen.insert(real) {
        return Ok(());
    }
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir.display(), e))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let n = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let meta = std::fs::metadata(&path).map_err(|e| Error::io(path.display(), e))?;
        if meta.is_dir() {
            if !rules.ignore(&n, true) {
                walk(&path, &n, rules, out, seen)?;
            }
            continue;
        }
        if rules.ignore(&n, false) {
            continue;
        }
        if !meta.is_file() {
            return Err(Error::Chart(format!(
                "cannot load irregular file {} as it has file mode type bits set",
                path.display()
            )));
        }
        if meta.len() > MAX_FILE_SIZE {
            return Err(Error::FileTooLarge {
                name,
                limit: MAX_FILE_SIZE,
            });
        }
        let data = std::fs::read(&path).map_err(|e| Error::io(path.display(), e))?;
        let data = data
            .strip_prefix(b"\xEF\xBB\xBF")
            .map(<[u8]>::to_vec)
            .unwrap_or(data);
        out.push(File { name: n, data });
    }
    Ok(())
}
