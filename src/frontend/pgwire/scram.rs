//! SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it, verifying one proof against
//! several passwords at once.
//!
//! Owns the SCRAM messages and math. The gateway accepts the admin token or the client
//! token as the password for any user name, so the server cannot know which secret the
//! client holds before the proof arrives: every candidate shares one salt and iteration
//! count, and the proof is checked against each candidate's stored key (the role is the
//! candidate that matches). Channel binding is not offered (no `SCRAM-SHA-256-PLUS`).
//! Must not know pgwire types or roles beyond an opaque tag per candidate.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::{digest, hmac, pbkdf2};
use std::num::NonZeroU32;
use subtle::ConstantTimeEq;

/// The mechanism name sent in `AuthenticationSASL`.
pub const MECHANISM: &str = "SCRAM-SHA-256";
/// PBKDF2 iterations (PostgreSQL's default).
const ITERATIONS: u32 = 4096;

/// Why a SCRAM exchange failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    /// A message that does not follow the protocol.
    #[error("malformed SCRAM message: {0}")]
    Malformed(&'static str),
    /// The proof matches no candidate password.
    #[error("password authentication failed")]
    WrongPassword,
}

/// One acceptable password, reduced to what verification needs.
#[derive(Clone)]
struct Candidate<T> {
    tag: T,
    stored_key: Vec<u8>,
    server_key: Vec<u8>,
}

impl<T> std::fmt::Debug for Candidate<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Candidate(<redacted>)")
    }
}

/// The server's verifiers: one salt, several passwords. Derive once at start-up (PBKDF2 is
/// deliberately slow) and share.
#[derive(Debug, Clone)]
pub struct Verifiers<T> {
    salt: Vec<u8>,
    candidates: Vec<Candidate<T>>,
}

impl<T: Clone> Verifiers<T> {
    /// Derives the verifiers of `passwords` (each with the tag a match returns) under a
    /// fresh random salt.
    #[must_use]
    pub fn new(passwords: &[(T, &str)]) -> Self {
        let salt: [u8; 16] = rand::random();
        let candidates = passwords
            .iter()
            .map(|(tag, password)| {
                let salted = salted_password(password, &salt);
                let client_key = hmac_sha256(&salted, b"Client Key");
                Candidate {
                    tag: tag.clone(),
                    stored_key: digest::digest(&digest::SHA256, &client_key)
                        .as_ref()
                        .to_vec(),
                    server_key: hmac_sha256(&salted, b"Server Key"),
                }
            })
            .collect();
        Self {
            salt: salt.to_vec(),
            candidates,
        }
    }

    /// Answers the client-first message: returns the server-first message and the state
    /// that checks the client-final message.
    ///
    /// # Errors
    /// [`ScramError::Malformed`] for a message that is not a SCRAM client-first message or
    /// that asks for channel binding.
    pub fn start(&self, client_first: &[u8]) -> Result<(String, Exchange<T>), ScramError> {
        let text = std::str::from_utf8(client_first).map_err(|_| ScramError::Malformed("utf-8"))?;
        // gs2-header: "n,," (no binding) or "y,," (client could bind, we do not offer it).
        let bare = if let Some(rest) = text.strip_prefix("n,") {
            rest
        } else if let Some(rest) = text.strip_prefix("y,") {
            rest
        } else {
            return Err(ScramError::Malformed("channel binding is not supported"));
        };
        let (authzid, bare) = bare
            .split_once(',')
            .ok_or(ScramError::Malformed("gs2 header"))?;
        if !authzid.is_empty() {
            return Err(ScramError::Malformed(
                "authorization identity is not supported",
            ));
        }
        let gs2_header = &text[..text.len() - bare.len()];
        let client_nonce = attribute(bare, 'r').ok_or(ScramError::Malformed("client nonce"))?;
        let server_nonce: [u8; 18] = rand::random();
        let nonce = format!("{client_nonce}{}", BASE64.encode(server_nonce));
        let server_first = format!("r={nonce},s={},i={ITERATIONS}", BASE64.encode(&self.salt));
        let exchange = Exchange {
            candidates: self.candidates.clone(),
            client_first_bare: bare.to_owned(),
            server_first: server_first.clone(),
            nonce,
            channel_binding: BASE64.encode(gs2_header),
        };
        Ok((server_first, exchange))
    }
}

/// A SCRAM exchange waiting for the client-final message.
#[derive(Debug)]
pub struct Exchange<T> {
    candidates: Vec<Candidate<T>>,
    client_first_bare: String,
    server_first: String,
    nonce: String,
    channel_binding: String,
}

impl<T: Clone> Exchange<T> {
    /// Checks the client-final message; returns the matching candidate's tag and the
    /// server-final message (`v=…`) that proves the server knew the password too.
    ///
    /// # Errors
    /// [`ScramError::Malformed`] for a broken message or a nonce or binding mismatch,
    /// [`ScramError::WrongPassword`] when no candidate matches.
    pub fn finish(&self, client_final: &[u8]) -> Result<(T, String), ScramError> {
        let text = std::str::from_utf8(client_final).map_err(|_| ScramError::Malformed("utf-8"))?;
        let (without_proof, proof) = text
            .rsplit_once(",p=")
            .ok_or(ScramError::Malformed("client proof"))?;
        if attribute(without_proof, 'c') != Some(self.channel_binding.as_str()) {
            return Err(ScramError::Malformed("channel binding mismatch"));
        }
        if attribute(without_proof, 'r') != Some(self.nonce.as_str()) {
            return Err(ScramError::Malformed("nonce mismatch"));
        }
        let proof = BASE64
            .decode(proof)
            .map_err(|_| ScramError::Malformed("client proof encoding"))?;
        let auth_message = format!(
            "{},{},{without_proof}",
            self.client_first_bare, self.server_first
        );
        for candidate in &self.candidates {
            if proof.len() != candidate.stored_key.len() {
                return Err(ScramError::Malformed("client proof length"));
            }
            let signature = hmac_sha256(&candidate.stored_key, auth_message.as_bytes());
            let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(a, b)| a ^ b).collect();
            let stored = digest::digest(&digest::SHA256, &client_key);
            // Constant-time comparison: the key is secret.
            if bool::from(stored.as_ref().ct_eq(&candidate.stored_key)) {
                let server_signature = hmac_sha256(&candidate.server_key, auth_message.as_bytes());
                return Ok((
                    candidate.tag.clone(),
                    format!("v={}", BASE64.encode(server_signature)),
                ));
            }
        }
        Err(ScramError::WrongPassword)
    }
}

/// The client side of SCRAM-SHA-256, for logging in to an external server.
#[derive(Debug)]
pub struct ClientExchange {
    password: String,
    client_first_bare: String,
}

impl ClientExchange {
    /// Starts an exchange; returns the state and the client-first message.
    #[must_use]
    pub fn start(password: &str) -> (Self, String) {
        let nonce: [u8; 18] = rand::random();
        let client_first_bare = format!("n=,r={}", BASE64.encode(nonce));
        let first = format!("n,,{client_first_bare}");
        (
            Self {
                password: password.to_owned(),
                client_first_bare,
            },
            first,
        )
    }

    /// Answers the server-first message; returns the client-final message and the
    /// server-final message the server must then send (`v=…`).
    ///
    /// # Errors
    /// [`ScramError::Malformed`] for a server-first message that does not follow the
    /// protocol (or whose nonce does not extend ours).
    pub fn finish(&self, server_first: &[u8]) -> Result<(String, String), ScramError> {
        let text = std::str::from_utf8(server_first).map_err(|_| ScramError::Malformed("utf-8"))?;
        let nonce = attribute(text, 'r').ok_or(ScramError::Malformed("server nonce"))?;
        let ours = attribute(&self.client_first_bare, 'r').unwrap_or_default();
        if !nonce.starts_with(ours) || nonce.len() == ours.len() {
            return Err(ScramError::Malformed("server nonce"));
        }
        let salt = attribute(text, 's')
            .and_then(|s| BASE64.decode(s).ok())
            .ok_or(ScramError::Malformed("salt"))?;
        let iterations: u32 = attribute(text, 'i')
            .and_then(|i| i.parse().ok())
            .filter(|i| *i > 0)
            .ok_or(ScramError::Malformed("iteration count"))?;
        let salted = salted_password_with(&self.password, &salt, iterations);
        let client_key = hmac_sha256(&salted, b"Client Key");
        let stored_key = digest::digest(&digest::SHA256, &client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{text},{without_proof}", self.client_first_bare);
        let signature = hmac_sha256(stored_key.as_ref(), auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = hmac_sha256(&salted, b"Server Key");
        let server_signature = hmac_sha256(&server_key, auth_message.as_bytes());
        Ok((
            format!("{without_proof},p={}", BASE64.encode(proof)),
            format!("v={}", BASE64.encode(server_signature)),
        ))
    }
}

/// The value of `name=` in a comma-separated SCRAM attribute list.
fn attribute(message: &str, name: char) -> Option<&str> {
    message.split(',').find_map(|part| {
        let mut chars = part.chars();
        (chars.next() == Some(name) && chars.next() == Some('=')).then(|| &part[2..])
    })
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    hmac::sign(&key, message).as_ref().to_vec()
}

/// `Hi(password, salt, i)`. PostgreSQL applies SASLprep; tokens are ASCII, for which it is
/// the identity.
fn salted_password(password: &str, salt: &[u8]) -> Vec<u8> {
    salted_password_with(password, salt, ITERATIONS)
}

fn salted_password_with(password: &str, salt: &[u8], iterations: u32) -> Vec<u8> {
    let mut out = vec![0u8; digest::SHA256_OUTPUT_LEN];
    let iterations = NonZeroU32::new(iterations).unwrap_or(NonZeroU32::MIN);
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        salt,
        password.as_bytes(),
        &mut out,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client following RFC 5802, to drive the server side.
    fn client_final(server_first: &str, client_first_bare: &str, password: &str) -> String {
        let nonce = attribute(server_first, 'r').unwrap();
        let salt = BASE64
            .decode(attribute(server_first, 's').unwrap())
            .unwrap();
        let salted = salted_password(password, &salt);
        let client_key = hmac_sha256(&salted, b"Client Key");
        let stored_key = digest::digest(&digest::SHA256, &client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
        let signature = hmac_sha256(stored_key.as_ref(), auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(a, b)| a ^ b)
            .collect();
        format!("{without_proof},p={}", BASE64.encode(proof))
    }

    #[test]
    fn either_password_is_accepted_and_identified() {
        let verifiers = Verifiers::new(&[("admin", "secret-a"), ("client", "secret-c")]);
        for (password, tag) in [("secret-a", "admin"), ("secret-c", "client")] {
            let (server_first, exchange) = verifiers.start(b"n,,n=,r=abc").unwrap();
            assert!(server_first.starts_with("r=abc"));
            let reply = client_final(&server_first, "n=,r=abc", password);
            let (got, server_final) = exchange.finish(reply.as_bytes()).unwrap();
            assert_eq!(got, tag);
            assert!(server_final.starts_with("v="));
        }
        let (server_first, exchange) = verifiers.start(b"n,,n=,r=abc").unwrap();
        let reply = client_final(&server_first, "n=,r=abc", "wrong");
        assert_eq!(
            exchange.finish(reply.as_bytes()),
            Err(ScramError::WrongPassword)
        );
    }

    #[test]
    fn the_client_side_logs_in_to_the_server_side() {
        let verifiers = Verifiers::new(&[("only", "pw")]);
        let (client, first) = ClientExchange::start("pw");
        let (server_first, exchange) = verifiers.start(first.as_bytes()).unwrap();
        let (client_final, expected) = client.finish(server_first.as_bytes()).unwrap();
        let (tag, server_final) = exchange.finish(client_final.as_bytes()).unwrap();
        assert_eq!((tag, server_final), ("only", expected));
        assert!(client.finish(b"r=other,s=AA==,i=4096").is_err());
    }

    #[test]
    fn malformed_messages_are_refused() {
        let verifiers = Verifiers::new(&[((), "x")]);
        for bad in [
            &b"p=tls-server-end-point,,n=,r=a"[..],
            b"garbage",
            b"n,a=someone,n=,r=a",
            b"n,,n=",
            b"\xff\xfe",
        ] {
            assert!(matches!(
                verifiers.start(bad),
                Err(ScramError::Malformed(_))
            ));
        }
        let (_, exchange) = verifiers.start(b"n,,n=,r=abc").unwrap();
        for bad in [
            &b"c=biws,r=other,p=AAAA"[..],
            b"c=biws,r=abc",
            b"c=xx,r=abc,p=AA",
        ] {
            assert!(matches!(
                exchange.finish(bad),
                Err(ScramError::Malformed(_))
            ));
        }
    }
}
