//! Admin token provisioning: never run without an admin token, never use a well-known one.
//!
//! Owns the `admin_token` file in the data directory. Must not know how tokens are checked.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use rand::RngCore as _;

use super::{Config, ConfigError, Secret};

/// File in the data directory that holds a generated admin token (mode 0600).
pub const ADMIN_TOKEN_FILE: &str = "admin_token";

/// Makes sure `config` has an admin token. A configured token is used as is (and never
/// written to disk). Otherwise the token stored in `<data_dir>/admin_token` is used, or a new
/// random one is generated and stored there with mode 0600; the new token is returned so the
/// caller can print it once.
///
/// # Errors
/// `58030` when the data directory or the token file cannot be read or written.
pub fn ensure_admin_token(config: &mut Config) -> Result<Option<String>, ConfigError> {
    if config.admin_token.is_some() {
        return Ok(None);
    }
    let path = config.data_dir.join(ADMIN_TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => {
            config.admin_token = Some(Secret::new(text.trim().to_owned()));
            return Ok(None);
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(ConfigError::Io {
                context: "cannot read admin token file",
                path,
                source,
            });
        }
    }
    let token = generate();
    write_private(&config.data_dir, &path, &token)?;
    config.admin_token = Some(Secret::new(token.clone()));
    Ok(Some(token))
}

fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `token` to `path`, created with mode 0600 from the start (no window in which it is
/// readable by others).
fn write_private(dir: &Path, path: &Path, token: &str) -> Result<(), ConfigError> {
    let io = |context, source| ConfigError::Io {
        context,
        path: path.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(|e| io("cannot create data directory for", e))?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io("cannot create admin token file", e))?;
    file.write_all(format!("{token}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| io("cannot write admin token file", e))
}
