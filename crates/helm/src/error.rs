//! Every way loading or rendering a chart fails, naming the chart, file and
//! field. Messages read as `helm template` prints them where users compare.

/// Why a chart did not load or render.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading a file or directory failed.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The packaged chart breaks a rule (size, paths, gzip, tar layout).
    #[error("{0}")]
    Archive(String),
    /// A chart file is larger than Helm accepts.
    #[error("chart file {name:?} is larger than the maximum file size {limit}")]
    FileTooLarge { name: String, limit: u64 },
    /// Chart.yaml, values.yaml or another chart file does not parse.
    #[error("cannot load {file}: {message}")]
    Parse { file: String, message: String },
    /// Chart.yaml misses or breaks a required field.
    #[error("validation: {0}")]
    Validation(String),
    /// A subchart failed to load.
    #[error("error unpacking subchart {name} in {parent}: {source}")]
    Subchart {
        name: String,
        parent: String,
        #[source]
        source: Box<Error>,
    },
    /// `.helmignore` holds a rule Helm refuses.
    #[error("{file}: {message}")]
    Ignore { file: String, message: String },
    /// A `--set` style argument does not parse.
    #[error("failed parsing --{flag} data: {message}")]
    Strvals { flag: String, message: String },
    /// A values file (`-f`) does not parse.
    #[error("failed to parse {file}: {message}")]
    ValuesFile { file: String, message: String },
    /// Values break a chart's values.schema.json.
    #[error(
        "values don't meet the specifications of the schema(s) in the following chart(s):\n{0}"
    )]
    Schema(String),
    /// The chart cannot be installed as asked (library chart, kubeVersion,
    /// missing dependency, type mismatch in values).
    #[error("{0}")]
    Chart(String),
    /// The chart's kubeVersion excludes the target Kubernetes version.
    #[error("{0}")]
    KubeVersion(String),
    /// A template failed to parse or execute (message as Helm words it).
    #[error("{0}")]
    Template(String),
    /// A rendered manifest is not YAML.
    #[error("YAML parse error on {file}: {message}")]
    Manifest { file: String, message: String },
}

impl Error {
    /// Whether Helm fails this after creating the release, so that
    /// `helm template` adds its `--debug` hint to the message.
    pub fn after_release(&self) -> bool {
        matches!(
            self,
            Error::KubeVersion(_) | Error::Template(_) | Error::Manifest { .. }
        )
    }

    /// The text `helm template` prints on stderr for this failure.
    pub fn helm_cli_text(&self) -> String {
        if self.after_release() {
            format!("Error: {self}\n\nUse --debug flag to render out invalid YAML")
        } else {
            format!("Error: {self}")
        }
    }

    /// A file that could not be read, worded as Go's os package words it
    /// (`open x: no such file or directory`, `read x: is a directory`).
    pub(crate) fn go_read(path: &std::path::Path, e: &std::io::Error) -> Error {
        let p = path.display();
        Error::Chart(match e.kind() {
            std::io::ErrorKind::NotFound => format!("open {p}: no such file or directory"),
            std::io::ErrorKind::PermissionDenied => format!("open {p}: permission denied"),
            std::io::ErrorKind::IsADirectory => format!("read {p}: is a directory"),
            _ => format!("open {p}: {e}"),
        })
    }

    pub(crate) fn io(path: impl std::fmt::Display, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_string(),
            source,
        }
    }
}
