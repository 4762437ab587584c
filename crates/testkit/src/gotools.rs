//! Builds pinned Go commands (the control plane, later the reference oracles)
//! from their Go modules into a cache outside the repository.
//!
//! `go install module/cmd@version` refuses modules whose go.mod carries
//! `replace` lines (Kubernetes and etcd both do), so every tool is built from a
//! small generated wrapper module that requires the upstream module and turns
//! each local-directory replacement into a pinned published version.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cache::Cache;
use crate::fsutil::{FileLock, tail_lines, write_private};
use crate::gomod::{GoMod, wrapper_go_mod};

/// The pinned tool list, compiled in so its content is part of every cache key.
const TOOLS_TOML: &str = include_str!("../tools.toml");

/// One Go-built tool: a module version and the command packages it provides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoTool {
    #[serde(skip)]
    pub name: String,
    pub module: String,
    pub version: String,
    pub packages: Vec<String>,
    /// Version for modules the upstream go.mod replaces with local directories.
    #[serde(default)]
    pub local_replace: Option<String>,
    /// Files copied from the module's source tree into the cache entry.
    #[serde(default)]
    pub assets: Vec<String>,
    /// Output names for commands whose Go name is unhelpful (`server` -> `etcd`).
    #[serde(default)]
    pub rename: BTreeMap<String, String>,
    /// Modules pinned to another version than the upstream go.mod asks for,
    /// when the proxy no longer serves the asked one (module -> version).
    #[serde(default)]
    pub pin: BTreeMap<String, String>,
    /// Linker `-X package.variable=value` settings (version stamps that the
    /// upstream release scripts set and a plain `go build` leaves empty).
    #[serde(default)]
    pub ldflags_x: BTreeMap<String, String>,
    /// Directories of this crate copied into the module's source before the
    /// build (module-relative destination -> directory relative to
    /// crates/testkit), for modules whose build needs files their release
    /// process generates and the published module lacks (flux's `go:embed`
    /// of its install manifests). The module is then built from that copy.
    #[serde(default)]
    pub overlay: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct ToolsFile {
    tools: BTreeMap<String, GoTool>,
}

/// Errors of the Go tool cache. Each says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum GoToolError {
    #[error("tools.toml is invalid: {0}")]
    Config(String),
    #[error("no tool named {0:?} in tools.toml")]
    UnknownTool(String),
    #[error(
        "the Go toolchain was not found (`go` on PATH): {0}; install Go 1.26 or newer to build the test control plane"
    )]
    GoMissing(std::io::Error),
    #[error("{tool}: `{step}` failed; last lines of {log}:\n{tail}")]
    BuildFailed {
        tool: String,
        step: String,
        log: PathBuf,
        tail: String,
    },
    #[error("{tool}: expected command {binary:?} was not produced by the build")]
    MissingBinary { tool: String, binary: String },
    #[error("cache I/O on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io_err(path: &Path, source: std::io::Error) -> GoToolError {
    GoToolError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Every tool pinned in tools.toml.
pub fn pinned_tools() -> Result<BTreeMap<String, GoTool>, GoToolError> {
    parse_tools(TOOLS_TOML)
}

/// One pinned tool by name.
pub fn pinned_tool(name: &str) -> Result<GoTool, GoToolError> {
    pinned_tools()?
        .remove(name)
        .ok_or_else(|| GoToolError::UnknownTool(name.to_string()))
}

fn parse_tools(text: &str) -> Result<BTreeMap<String, GoTool>, GoToolError> {
    let file: ToolsFile = toml::from_str(text).map_err(|e| GoToolError::Config(e.to_string()))?;
    Ok(file
        .tools
        .into_iter()
        .map(|(name, mut tool)| {
            tool.name = name.clone();
            (name, tool)
        })
        .collect())
}

/// What a finished cache entry records, so a later run can tell a good entry
/// from a truncated or modified one.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Manifest {
    module: String,
    version: String,
    /// Binary or asset file name -> lowercase hex sha256.
    files: BTreeMap<String, String>,
}

/// A verified cache entry: the directory holding the tool's commands.
#[derive(Debug, Clone)]
pub struct BuiltTool {
    pub dir: PathBuf,
}

impl BuiltTool {
    /// Path of one command of this tool.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Path of a file copied from the module source (an entry of `assets`).
    pub fn asset(&self, asset: &str) -> PathBuf {
        self.dir.join(asset_name(asset))
    }
}

/// Why a cache entry cannot be used as it is.
#[derive(Debug, PartialEq, Eq)]
pub enum EntryState {
    Missing,
    Corrupt(String),
    Valid,
}

impl GoTool {
    /// The cache key: tool name, version and a hash of the whole entry, so any
    /// change to the pin (packages, replacements) builds a fresh entry.
    pub fn cache_key(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(format!("{self:?}").as_bytes());
        // An overlay's files are inputs of the build as much as the pin is.
        match overlay_files(&self.overlay) {
            Ok(files) => {
                for (dest, from) in files {
                    hasher.update(dest.as_bytes());
                    hasher.update(std::fs::read(&from).unwrap_or_default());
                }
            }
            Err(e) => hasher.update(e.to_string().as_bytes()),
        }
        let digest = hex::encode(hasher.finalize());
        format!("{}-{}-{}", self.name, self.version, &digest[..12])
    }

    /// Names of the binaries `go build -o dir/` produces for our packages.
    pub fn binary_names(&self) -> Vec<String> {
        self.packages
            .iter()
            .map(|pkg| {
                let name = binary_name(&self.module, pkg);
                self.rename.get(&name).cloned().unwrap_or(name)
            })
            .collect()
    }

    /// Checks a cache entry against its manifest.
    pub fn entry_state(&self, dir: &Path) -> EntryState {
        let manifest_path = dir.join("manifest.json");
        let Ok(text) = std::fs::read(&manifest_path) else {
            return EntryState::Missing;
        };
        let manifest: Manifest = match serde_json::from_slice(&text) {
            Ok(m) => m,
            Err(e) => return EntryState::Corrupt(format!("manifest.json is unreadable: {e}")),
        };
        let expected: Vec<String> = self
            .binary_names()
            .into_iter()
            .chain(self.assets.iter().map(|a| asset_name(a)))
            .collect();
        for name in expected {
            let Some(want) = manifest.files.get(&name) else {
                return EntryState::Corrupt(format!("manifest.json does not list {name}"));
            };
            match sha256_file(&dir.join(&name)) {
                Ok(got) if &got == want => {}
                Ok(_) => return EntryState::Corrupt(format!("{name} does not match its checksum")),
                Err(e) => return EntryState::Corrupt(format!("{name} cannot be read: {e}")),
            }
        }
        EntryState::Valid
    }

    /// Returns the verified cache entry, building it first when it is missing
    /// or corrupt. Safe to call from parallel processes: one builds, the others wait.
    pub fn ensure(&self, cache: &Cache) -> Result<BuiltTool, GoToolError> {
        let dir = cache.tools_dir().join(self.cache_key());
        let lock_path = cache.locks_dir().join(format!("tool-{}.lock", self.name));
        let _lock = FileLock::acquire(&lock_path).map_err(|e| io_err(&lock_path, e))?;
        match self.entry_state(&dir) {
            EntryState::Valid => return Ok(BuiltTool { dir }),
            EntryState::Missing => {}
            EntryState::Corrupt(why) => {
                eprintln!(
                    "testkit: cached {} at {} is corrupt ({why}); removing it and building again",
                    self.name,
                    dir.display()
                );
                std::fs::remove_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
            }
        }
        if let Err(e) = self.build(cache, &dir) {
            // A failed build leaves nothing that a later run could mistake for an entry.
            let partial = cache
                .tools_dir()
                .join(format!("{}.partial", self.cache_key()));
            let _ = std::fs::remove_dir_all(partial);
            return Err(e);
        }
        Ok(BuiltTool { dir })
    }

    fn build(&self, cache: &Cache, dir: &Path) -> Result<(), GoToolError> {
        let key = self.cache_key();
        let src = cache.go_src_dir().join(&key);
        let staging = cache.tools_dir().join(format!("{key}.partial"));
        let log = cache.logs_dir().join(format!("build-{key}.log"));
        // Leftovers of an interrupted build are discarded, never trusted.
        for d in [&src, &staging] {
            if d.exists() {
                std::fs::remove_dir_all(d).map_err(|e| io_err(d, e))?;
            }
        }
        for d in [src.clone(), staging.clone(), cache.logs_dir()] {
            std::fs::create_dir_all(&d).map_err(|e| io_err(&d, e))?;
        }
        std::fs::write(&log, b"").map_err(|e| io_err(&log, e))?;
        eprintln!(
            "testkit: building {} {} from Go modules (first time only; log: {})",
            self.name,
            self.version,
            log.display()
        );

        let download = self.go(&src, &log, &["mod", "download", "-json", &self.module_at()])?;
        let info: ModDownload =
            serde_json::from_slice(&download).map_err(|e| GoToolError::BuildFailed {
                tool: self.name.clone(),
                step: "go mod download".into(),
                log: log.clone(),
                tail: format!("unexpected output: {e}"),
            })?;
        let upstream_text =
            std::fs::read_to_string(&info.go_mod).map_err(|e| io_err(&info.go_mod, e))?;
        let upstream = GoMod::parse(&upstream_text);
        let go_mod = wrapper_go_mod(
            &format!("driftless.local/tools/{}", self.name),
            &self.module,
            &self.version,
            &upstream,
            self.local_replace.as_deref(),
            &self.pin,
        );
        let go_mod = if self.overlay.is_empty() {
            go_mod
        } else {
            let copy = src.join(OVERLAID_MODULE_DIR);
            copy_tree(&info.dir, &copy)?;
            for (dest, from) in overlay_files(&self.overlay)? {
                let to = copy.join(&dest);
                if let Some(parent) = to.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
                }
                std::fs::copy(&from, &to).map_err(|e| io_err(&from, e))?;
            }
            format!(
                "{go_mod}replace {} => ./{OVERLAID_MODULE_DIR}\n",
                self.module
            )
        };
        let go_mod_path = src.join("go.mod");
        std::fs::write(&go_mod_path, go_mod).map_err(|e| io_err(&go_mod_path, e))?;

        let out_dir = format!("{}/", staging.display());
        let mut args = vec![
            "build".to_string(),
            "-mod=mod".into(),
            "-trimpath".into(),
            format!("-ldflags={}", self.ldflags()),
            "-o".into(),
            out_dir,
        ];
        args.extend(self.packages.iter().map(|p| package_path(&self.module, p)));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.go(&src, &log, &args)?;

        for (from, to) in &self.rename {
            let from_path = staging.join(from);
            if from_path.is_file() {
                std::fs::rename(&from_path, staging.join(to)).map_err(|e| io_err(&from_path, e))?;
            }
        }
        let mut files = BTreeMap::new();
        for name in self.binary_names() {
            let path = staging.join(&name);
            if !path.is_file() {
                return Err(GoToolError::MissingBinary {
                    tool: self.name.clone(),
                    binary: name,
                });
            }
            files.insert(name, sha256_file(&path).map_err(|e| io_err(&path, e))?);
        }
        for asset in &self.assets {
            let from = info.dir.join(asset);
            let to = staging.join(asset_name(asset));
            std::fs::copy(&from, &to).map_err(|e| io_err(&from, e))?;
            files.insert(
                asset_name(asset),
                sha256_file(&to).map_err(|e| io_err(&to, e))?,
            );
        }
        let manifest = Manifest {
            module: self.module.clone(),
            version: self.version.clone(),
            files,
        };
        let manifest_path = staging.join("manifest.json");
        let json =
            serde_json::to_vec_pretty(&manifest).map_err(|e| GoToolError::Config(e.to_string()))?;
        write_private(&manifest_path, &json, io_err)?;
        // The entry appears whole or not at all.
        std::fs::rename(&staging, dir).map_err(|e| io_err(dir, e))?;
        Ok(())
    }

    fn ldflags(&self) -> String {
        let mut flags = String::from("-s -w");
        for (var, value) in &self.ldflags_x {
            flags.push_str(&format!(" -X {var}={value}"));
        }
        flags
    }

    fn module_at(&self) -> String {
        format!("{}@{}", self.module, self.version)
    }

    /// Runs one `go` command in `cwd`, appending its stderr to `log`; returns stdout.
    fn go(&self, cwd: &Path, log: &Path, args: &[&str]) -> Result<Vec<u8>, GoToolError> {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| io_err(log, e))?;
        let output = Command::new("go")
            .args(args)
            .current_dir(cwd)
            // A wrapper module must never pick up a workspace or vendor dir around it.
            .env("GOWORK", "off")
            .env("GOFLAGS", "-buildvcs=false")
            .stdin(Stdio::null())
            .stderr(log_file)
            .output()
            .map_err(GoToolError::GoMissing)?;
        if output.status.success() {
            Ok(output.stdout)
        } else {
            Err(GoToolError::BuildFailed {
                tool: self.name.clone(),
                step: format!("go {}", args.join(" ")),
                log: log.to_path_buf(),
                tail: tail_lines(log, 30),
            })
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ModDownload {
    go_mod: PathBuf,
    dir: PathBuf,
}

/// Where, inside the wrapper module, a module with an overlay is copied.
const OVERLAID_MODULE_DIR: &str = "module";

/// The files of every overlay directory: (module-relative destination, source
/// path), sorted, so the cache key and the copy see the same list.
fn overlay_files(
    overlay: &BTreeMap<String, String>,
) -> Result<Vec<(String, PathBuf)>, GoToolError> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for (dest, from) in overlay {
        let from = root.join(from);
        let mut found = Vec::new();
        walk_files(&from, &mut found)?;
        if found.is_empty() {
            return Err(GoToolError::Config(format!(
                "overlay {} holds no files",
                from.display()
            )));
        }
        for file in found {
            let rel = file
                .strip_prefix(&from)
                .map_err(|e| GoToolError::Config(e.to_string()))?;
            files.push((format!("{dest}/{}", rel.display()), file));
        }
    }
    files.sort();
    Ok(files)
}

fn walk_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), GoToolError> {
    for entry in std::fs::read_dir(dir).map_err(|e| io_err(dir, e))? {
        let path = entry.map_err(|e| io_err(dir, e))?.path();
        if path.is_dir() {
            walk_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Copies a module's source tree (read-only in Go's module cache) into a
/// directory of ours; the directories are created writable so overlays can land.
fn copy_tree(from: &Path, to: &Path) -> Result<(), GoToolError> {
    std::fs::create_dir_all(to).map_err(|e| io_err(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| io_err(from, e))? {
        let entry = entry.map_err(|e| io_err(from, e))?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if src.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst).map_err(|e| io_err(&src, e))?;
        }
    }
    Ok(())
}

/// Assets are stored flat in the entry; their path becomes the file name.
fn asset_name(asset: &str) -> String {
    asset.replace('/', "__")
}

/// Import path of a command package given relative to its module.
fn package_path(module: &str, pkg: &str) -> String {
    match pkg.trim_matches('/') {
        "" | "." => module.to_string(),
        rel => format!("{module}/{rel}"),
    }
}

/// The file name `go build -o dir/` gives a command: its last path element,
/// skipping a major-version suffix such as `/v3`.
fn binary_name(module: &str, pkg: &str) -> String {
    let path = package_path(module, pkg);
    let mut parts = path.rsplit('/');
    let last = parts.next().unwrap_or_default();
    let is_major =
        last.len() > 1 && last.starts_with('v') && last[1..].chars().all(|c| c.is_ascii_digit());
    if is_major {
        parts.next().unwrap_or(last).to_string()
    } else {
        last.to_string()
    }
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_tool_list_parses_and_names_the_control_plane() {
        let tools = pinned_tools().unwrap();
        for name in ["kubernetes", "etcd", "kwok"] {
            assert!(tools.contains_key(name), "{name} missing from tools.toml");
        }
        let kube = &tools["kubernetes"];
        assert_eq!(
            kube.binary_names(),
            [
                "kube-apiserver",
                "kube-controller-manager",
                "kube-scheduler",
                "kubectl"
            ]
        );
        assert_eq!(tools["etcd"].binary_names(), ["etcd"]);
    }

    #[test]
    fn kubernetes_binaries_are_stamped_with_their_release_version() {
        let kube = pinned_tool("kubernetes").unwrap();
        let flags = kube.ldflags();
        assert!(flags.contains(&format!(
            "-X k8s.io/component-base/version.gitVersion={}",
            kube.version
        )));
        assert!(flags.contains("-X k8s.io/component-base/version.gitMajor=1"));
    }

    #[test]
    fn unknown_keys_in_the_tool_list_are_rejected() {
        let err =
            parse_tools("[tools.x]\nmodule='m'\nversion='v1'\npackages=[]\nbogus=1\n").unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
    }

    #[test]
    fn binary_names_skip_major_version_suffixes() {
        assert_eq!(binary_name("go.etcd.io/etcd/v3", "."), "etcd");
        assert_eq!(binary_name("sigs.k8s.io/kwok", "cmd/kwok"), "kwok");
        assert_eq!(binary_name("helm.sh/helm/v3", "cmd/helm"), "helm");
    }

    #[test]
    fn changing_a_pin_changes_the_cache_key() {
        let tool = pinned_tool("kwok").unwrap();
        let mut other = tool.clone();
        other.version = "v0.0.1".into();
        assert_ne!(tool.cache_key(), other.cache_key());
        assert!(tool.cache_key().starts_with("kwok-v0.8.0-"));
    }

    #[test]
    fn the_flux_cli_overlay_lists_its_files_under_the_embed_directory() {
        let flux = pinned_tool("flux").unwrap();
        let files = overlay_files(&flux.overlay).unwrap();
        let dests: Vec<&str> = files.iter().map(|(d, _)| d.as_str()).collect();
        assert_eq!(
            dests,
            [
                "cmd/flux/manifests/policies.yaml",
                "cmd/flux/manifests/rbac.yaml"
            ]
        );
    }

    #[test]
    fn an_overlay_naming_a_missing_directory_is_an_error_naming_it() {
        let overlay = [("cmd/x".to_string(), "overlays/no-such-dir".to_string())].into();
        let err = overlay_files(&overlay).unwrap_err();
        assert!(err.to_string().contains("no-such-dir"), "{err}");
    }

    #[test]
    fn changing_an_overlay_changes_the_cache_key() {
        let flux = pinned_tool("flux").unwrap();
        let mut other = flux.clone();
        other.overlay = [(
            "cmd/flux/manifests".to_string(),
            "overlays/flux-cli".to_string(),
        )]
        .into();
        assert_ne!(flux.cache_key(), other.cache_key());
    }

    #[test]
    fn copy_tree_copies_nested_files_into_writable_directories() {
        let from = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(from.path().join("a/b")).unwrap();
        std::fs::write(from.path().join("a/b/f.txt"), b"x").unwrap();
        let to = tempfile::tempdir().unwrap();
        copy_tree(from.path(), &to.path().join("m")).unwrap();
        assert_eq!(std::fs::read(to.path().join("m/a/b/f.txt")).unwrap(), b"x");
        std::fs::write(to.path().join("m/a/new.yaml"), b"y").unwrap();
    }

    #[test]
    fn an_entry_whose_binary_changed_is_reported_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let tool = GoTool {
            name: "demo".into(),
            module: "example.com/demo".into(),
            version: "v1.0.0".into(),
            packages: vec![".".into()],
            local_replace: None,
            assets: vec![],
            rename: BTreeMap::new(),
            pin: BTreeMap::new(),
            ldflags_x: BTreeMap::new(),
            overlay: BTreeMap::new(),
        };
        assert_eq!(tool.entry_state(dir.path()), EntryState::Missing);

        let bin = dir.path().join("demo");
        std::fs::write(&bin, b"original").unwrap();
        let manifest = Manifest {
            module: tool.module.clone(),
            version: tool.version.clone(),
            files: [("demo".to_string(), sha256_file(&bin).unwrap())].into(),
        };
        std::fs::write(
            dir.path().join("manifest.json"),
            serde_json::to_vec(&manifest).unwrap(),
        )
        .unwrap();
        assert_eq!(tool.entry_state(dir.path()), EntryState::Valid);

        std::fs::write(&bin, b"truncat").unwrap();
        let EntryState::Corrupt(why) = tool.entry_state(dir.path()) else {
            panic!("a modified binary must be corrupt");
        };
        assert!(why.contains("demo"), "{why}");

        std::fs::write(dir.path().join("manifest.json"), b"{not json").unwrap();
        assert!(matches!(
            tool.entry_state(dir.path()),
            EntryState::Corrupt(_)
        ));
    }
}
