//! Logging in with a credential on each frontend and reporting what happened: HTTP
//! (`/query`), WebSocket (`/socket?token=`, then one query) and pgwire (tokio-postgres, and a
//! raw start-up that shows the authentication request and the `ParameterStatus` set).

use std::collections::HashMap;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

use super::TestGateway;

/// What a frontend answered to a credential.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// The query ran.
    Ran,
    /// Refused with this HTTP status and SQLSTATE (pgwire: status 0).
    Refused(u16, String),
}

/// `POST /query` `SELECT 1` with `token`.
pub async fn http(gw: &TestGateway, token: &str) -> Outcome {
    let (status, body) = gw
        .post_as(token, "/query", json!({"sql": "SELECT 1 AS one"}))
        .await;
    if status == 200 {
        assert_eq!(body["result"], json!([{"one": 1}]));
        Outcome::Ran
    } else {
        Outcome::Refused(status, body["code"].as_str().unwrap_or_default().to_owned())
    }
}

/// `/socket?token=…`, then `SELECT 1`.
pub async fn ws(gw: &TestGateway, token: &str) -> Outcome {
    let url = format!("ws://{}/socket?token={token}", gw.http);
    match tokio_tungstenite::connect_async(url).await {
        Ok((mut socket, _)) => {
            let request = json!({"action": "query", "sql": "SELECT 1 AS one"});
            socket
                .send(Message::text(request.to_string()))
                .await
                .unwrap();
            loop {
                match socket.next().await.unwrap().unwrap() {
                    Message::Text(text) => {
                        let reply: Value = serde_json::from_str(text.as_str()).unwrap();
                        assert_eq!(reply, json!([{"one": 1}]));
                        return Outcome::Ran;
                    }
                    Message::Ping(_) | Message::Pong(_) => {}
                    other => panic!("unexpected frame {other:?}"),
                }
            }
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let status = response.status().as_u16();
            let body: Value = response
                .body()
                .as_deref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or(Value::Null);
            Outcome::Refused(status, body["code"].as_str().unwrap_or_default().to_owned())
        }
        Err(e) => panic!("WebSocket connect failed: {e}"),
    }
}

/// tokio-postgres with `password`, then `SELECT 1`.
pub async fn pg(gw: &TestGateway, password: &str) -> Outcome {
    match tokio_postgres::connect(&gw.pg_config(password), tokio_postgres::NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(async move {
                let _ = connection.await;
            });
            let row = client.query_one("SELECT 1::int4", &[]).await.unwrap();
            assert_eq!(row.get::<_, i32>(0), 1);
            Outcome::Ran
        }
        Err(e) => Outcome::Refused(
            0,
            e.code()
                .map(|c| c.code().to_owned())
                .unwrap_or_else(|| e.to_string()),
        ),
    }
}

/// A raw pgwire login: the authentication request code the server sent first (3 =
/// cleartext, 10 = SASL), then either the `ParameterStatus` values or the SQLSTATE of the
/// error. Only answers cleartext requests.
pub async fn pg_raw(
    gw: &TestGateway,
    password: &str,
) -> (i32, Result<HashMap<String, String>, String>) {
    pg_raw_at(gw.pg, password).await
}

/// [`pg_raw`] against `addr`.
pub async fn pg_raw_at(
    addr: std::net::SocketAddr,
    password: &str,
) -> (i32, Result<HashMap<String, String>, String>) {
    let (method, result) = pg_session_at(addr, password).await;
    (method, result.map(|(_, params)| params))
}

/// A raw session on `gw` after a cleartext login, for [`raw_query`].
pub async fn pg_session(gw: &TestGateway, password: &str) -> tokio::net::TcpStream {
    pg_session_at(gw.pg, password).await.1.unwrap().0
}

/// A simple `Query`: the SQLSTATE of its error, if any, and the `ReadyForQuery` status
/// (`I`, `T` or `E`).
pub async fn raw_query(socket: &mut tokio::net::TcpStream, sql: &str) -> (Option<String>, char) {
    let mut q = vec![b'Q'];
    q.extend_from_slice(&u32::try_from(sql.len() + 5).unwrap().to_be_bytes());
    q.extend_from_slice(sql.as_bytes());
    q.push(0);
    socket.write_all(&q).await.unwrap();
    let mut code = None;
    loop {
        let mut head = [0u8; 5];
        socket.read_exact(&mut head).await.unwrap();
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut body = vec![0u8; len - 4];
        socket.read_exact(&mut body).await.unwrap();
        match head[0] {
            b'E' => code = Some(error_code(&body)),
            b'Z' => return (code, char::from(body[0])),
            _ => {}
        }
    }
}

fn error_code(body: &[u8]) -> String {
    body.split(|b| *b == 0)
        .find_map(|f| f.strip_prefix(b"C"))
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .unwrap_or_default()
}

type Session = (tokio::net::TcpStream, HashMap<String, String>);

async fn pg_session_at(
    addr: std::net::SocketAddr,
    password: &str,
) -> (i32, Result<Session, String>) {
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut body = 196_608u32.to_be_bytes().to_vec();
    for part in ["user", "raw", "database", "main", ""] {
        body.extend_from_slice(part.as_bytes());
        body.push(0);
    }
    let mut packet = u32::try_from(body.len() + 4)
        .unwrap()
        .to_be_bytes()
        .to_vec();
    packet.extend(body);
    socket.write_all(&packet).await.unwrap();
    let mut params = HashMap::new();
    let mut method = -1;
    loop {
        let mut head = [0u8; 5];
        if socket.read_exact(&mut head).await.is_err() {
            return (method, Err("closed".into()));
        }
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut body = vec![0u8; len - 4];
        socket.read_exact(&mut body).await.unwrap();
        match head[0] {
            b'R' => {
                let code = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
                if method < 0 {
                    method = code;
                }
                if code == 3 {
                    let mut p = vec![b'p'];
                    p.extend_from_slice(&u32::try_from(password.len() + 5).unwrap().to_be_bytes());
                    p.extend_from_slice(password.as_bytes());
                    p.push(0);
                    socket.write_all(&p).await.unwrap();
                } else if code != 0 {
                    return (method, Err(format!("authentication request {code}")));
                }
            }
            b'S' => {
                let mut fields = body.split(|b| *b == 0);
                let name = String::from_utf8_lossy(fields.next().unwrap()).into_owned();
                let value = String::from_utf8_lossy(fields.next().unwrap()).into_owned();
                params.insert(name, value);
            }
            b'E' => return (method, Err(error_code(&body))),
            b'Z' => return (method, Ok((socket, params))),
            _ => {}
        }
    }
}
