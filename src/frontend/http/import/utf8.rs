//! Decoding an uploaded SQL file chunk by chunk as UTF-8, with a character split across two
//! chunks kept for the next one. Must not know statements or backends.

use starbase_protocol::DbError;

/// Takes the complete UTF-8 prefix of `pending` (all of it at the end of the input) and
/// leaves the bytes of a character cut off by the chunk boundary.
///
/// # Errors
/// `22023` when the bytes are not UTF-8.
pub(super) fn take_complete(pending: &mut Vec<u8>, at_end: bool) -> Result<String, DbError> {
    let valid = match std::str::from_utf8(pending) {
        Ok(s) => s.len(),
        Err(e) if e.error_len().is_none() && !at_end => e.valid_up_to(),
        Err(e) => {
            return Err(DbError::invalid_parameter(format!(
                "the SQL file is not valid UTF-8 (byte {})",
                e.valid_up_to()
            )));
        }
    };
    let text = std::str::from_utf8(&pending[..valid])
        .unwrap_or_default()
        .to_owned();
    pending.drain(..valid);
    Ok(text)
}
