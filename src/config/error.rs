//! `ConfigError` and `Origin`: what is wrong with the configuration and where it came from.
//!
//! Owns the error messages and their SQLSTATEs. Must not know how values are parsed or layered.

use std::fmt;
use std::path::PathBuf;

use starbase_protocol::SqlState;

/// Where a setting's value came from; named in every error about a bad value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The built-in default.
    Default,
    /// The configuration file at this path.
    File(PathBuf),
    /// This environment variable.
    Env(&'static str),
    /// This command-line flag (`--http-listen`).
    Flag(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("the built-in default"),
            Origin::File(path) => write!(f, "file \"{}\"", path.display()),
            Origin::Env(name) => write!(f, "environment variable {name}"),
            Origin::Flag(name) => write!(f, "flag {name}"),
        }
    }
}

/// A configuration problem. Messages follow PostgreSQL style and never contain a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A value that does not parse or is out of range (`22023`).
    #[error("invalid value for \"{setting}\" from {origin}: {reason}")]
    Invalid {
        /// The setting, by its file key (`max_request_bytes`).
        setting: &'static str,
        /// Where the value came from.
        origin: Origin,
        /// What is wrong with it.
        reason: String,
    },
    /// A configuration file that is not valid TOML, has an unknown key or a wrongly typed
    /// value (`22023`).
    #[error("invalid configuration file \"{}\"{}: {reason}", path.display(), at_line(*line))]
    File {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem, when the parser knows it.
        line: Option<usize>,
        /// The parser's message; names the unknown key. Never quotes the file's text.
        reason: String,
    },
    /// A data source whose settings are wrong, incomplete or clash with another (`22023`).
    #[error("invalid data source {name}: {reason} ({field} from {origin})")]
    Source {
        /// The source: its quoted name, or its position in `[[sources]]` when it has none.
        name: String,
        /// The field at fault (`url`, `type`, `name`, …).
        field: &'static str,
        /// Where the value came from.
        origin: Origin,
        /// What is wrong. Never contains a password or a URL.
        reason: String,
    },
    /// A file or directory that cannot be read or written (`58030`).
    #[error("{context} \"{}\": {source}", path.display())]
    Io {
        /// What was being done (`could not read configuration file`).
        context: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

fn at_line(line: Option<usize>) -> String {
    line.map(|l| format!(" at line {l}")).unwrap_or_default()
}

impl ConfigError {
    /// `22023` (invalid parameter value) for bad values and files, `58030` (I/O error) for
    /// files and directories that cannot be read or written.
    #[must_use]
    pub fn sqlstate(&self) -> SqlState {
        match self {
            ConfigError::Invalid { .. } | ConfigError::File { .. } | ConfigError::Source { .. } => {
                SqlState::INVALID_PARAMETER_VALUE
            }
            ConfigError::Io { .. } => SqlState::IO_ERROR,
        }
    }

    /// The setting a bad value belongs to, if the error is about one value.
    #[must_use]
    pub fn setting(&self) -> Option<&'static str> {
        match self {
            ConfigError::Invalid { setting, .. } => Some(setting),
            ConfigError::Source { .. } => Some("sources"),
            ConfigError::File { .. } | ConfigError::Io { .. } => None,
        }
    }
}
