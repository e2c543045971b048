//! Admin token provisioning: never run without an admin token, never use a well-known one.
//!
//! Owns the `admin_token` file in the data directory: read it, or create it with mode 0600
//! holding a fresh random token. Must not know how tokens are checked or printed.

use std::fs::{DirBuilder, OpenOptions};
use std::io::{ErrorKind, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use rand::RngCore as _;

use super::{Config, ConfigError, Secret};

/// File in the data directory that holds a generated admin token (mode 0600).
pub const ADMIN_TOKEN_FILE: &str = "admin_token";

/// Random bytes in a generated token (64 hex characters).
const TOKEN_BYTES: usize = 32;

/// What the token file holds.
enum Stored {
    Token(String),
    Missing,
    Blank,
}

/// Makes sure `config` has an admin token. A configured token is used as is and never written
/// to disk. Otherwise the token stored in `<data_dir>/admin_token` is used (returns
/// `Ok(None)`), or a new random one is generated and stored there and returned, so the caller
/// prints it once.
///
/// The file only ever appears complete and with mode 0600: the token is written to a private
/// temporary file that is then linked into place. A data directory created here gets mode
/// 0700. If a concurrent first start wins the race, its token is used.
///
/// # Errors
/// `58030` when the data directory or the token file cannot be read, created or written.
pub fn ensure_admin_token(config: &mut Config) -> Result<Option<String>, ConfigError> {
    if config.admin_token.is_some() {
        return Ok(None);
    }
    let path = config.data_dir.join(ADMIN_TOKEN_FILE);
    let stored = read_token(&path)?;
    if let Stored::Token(token) = stored {
        config.admin_token = Some(Secret::new(token));
        return Ok(None);
    }
    let token = generate();
    let placed = store(&config.data_dir, &path, &token, &stored)?;
    if !placed {
        // Lost a race with a concurrent first start: use the token it wrote.
        let Stored::Token(theirs) = read_token(&path)? else {
            let e = std::io::Error::new(ErrorKind::InvalidData, "file appeared but is blank");
            return Err(io_error("could not create admin token file", &path, e));
        };
        config.admin_token = Some(Secret::new(theirs));
        return Ok(None);
    }
    config.admin_token = Some(Secret::new(token.clone()));
    Ok(Some(token))
}

fn read_token(path: &Path) -> Result<Stored, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Stored::Missing),
        Err(e) => return Err(io_error("could not read admin token file", path, e)),
    };
    let token = text.trim();
    if token.is_empty() {
        return Ok(Stored::Blank);
    }
    warn_if_readable_by_others(path);
    Ok(Stored::Token(token.to_owned()))
}

fn warn_if_readable_by_others(path: &Path) {
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            mode = format_args!("{:o}", meta.permissions().mode() & 0o777),
            "admin token file is readable by other users; chmod 600 it"
        );
    }
}

/// 32 random bytes as lowercase hex, from `rand`'s thread RNG: a CSPRNG seeded from the OS.
fn generate() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    let mut hex = String::with_capacity(2 * TOKEN_BYTES);
    for b in bytes {
        hex.push(char::from(HEX[usize::from(b >> 4)]));
        hex.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    hex
}

/// Puts `token` at `path`: written to a private temporary file first, then hard-linked into
/// place when `path` is missing (fails if someone else got there first: `Ok(false)`) or
/// renamed over it when it is blank.
fn store(dir: &Path, path: &Path, token: &str, stored: &Stored) -> Result<bool, ConfigError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| io_error("could not create data directory", dir, e))?;
    let tmp = write_temporary(dir, token)?;
    let placed = match stored {
        Stored::Blank => std::fs::rename(&tmp, path).map(|()| true),
        Stored::Missing | Stored::Token(_) => match std::fs::hard_link(&tmp, path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        },
    };
    // After a rename there is nothing left to remove; after a link the name is redundant.
    let _ = std::fs::remove_file(&tmp);
    placed.map_err(|e| io_error("could not create admin token file", path, e))
}

/// A new file in `dir`, mode 0600 from its creation, holding `token`; returns its path.
fn write_temporary(dir: &Path, token: &str) -> Result<PathBuf, ConfigError> {
    let tmp = dir.join(format!(".{ADMIN_TOKEN_FILE}.{}.tmp", &generate()[..16]));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| io_error("could not create temporary admin token file", &tmp, e))?;
    file.write_all(format!("{token}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io_error("could not write admin token file", &tmp, e)
        })?;
    Ok(tmp)
}

fn io_error(context: &'static str, path: &Path, source: std::io::Error) -> ConfigError {
    ConfigError::Io {
        context,
        path: path.to_path_buf(),
        source,
    }
}
