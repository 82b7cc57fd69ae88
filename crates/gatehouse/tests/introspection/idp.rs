//! A fake RFC 7662 introspection endpoint: checks the gateway's Basic credentials and form body,
//! counts requests per token, and can be switched to slow, failing or garbage answers.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// `Basic base64("gw:s3cr%3At")`: client id `gw`, secret `s3cr:t` form-encoded (RFC 6749
/// §2.3.1), base64 computed independently (Python's base64 module).
pub const EXPECTED_BASIC: &str = "Basic Z3c6czNjciUzQXQ=";

/// How the endpoint answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Answers from the token table.
    Normal = 0,
    /// Sleeps 10 s before answering.
    Slow = 1,
    /// 500.
    Failing = 2,
    /// 200 with a body that is not JSON.
    Garbage = 3,
}

/// The running endpoint.
pub struct Idp {
    /// Its address.
    pub addr: SocketAddr,
    mode: Arc<AtomicU8>,
    /// Requests per form body (`token=…&token_type_hint=access_token`), well-formed ones only.
    counts: Arc<Mutex<HashMap<String, usize>>>,
    /// Requests refused for bad credentials or a bad body.
    bad: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Idp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Idp {
    /// `http://ADDR/introspect`.
    pub fn url(&self) -> String {
        format!("http://{}/introspect", self.addr)
    }

    /// Switches how it answers.
    pub fn set_mode(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// How many introspections of `token` (an ASCII token without characters needing encoding).
    pub fn count(&self, token: &str) -> usize {
        let key = format!("token={token}&token_type_hint=access_token");
        self.counts.lock().unwrap().get(&key).copied().unwrap_or(0)
    }

    /// Introspections of the form body `body` exactly.
    pub fn count_body(&self, body: &str) -> usize {
        self.counts.lock().unwrap().get(body).copied().unwrap_or(0)
    }

    /// Requests it refused (wrong credentials, content type or body).
    pub fn bad(&self) -> Vec<String> {
        self.bad.lock().unwrap().clone()
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The answer for a token, by name.
fn answer(token: &str) -> serde_json::Value {
    let exp = now() + 3600;
    match token {
        t if t.starts_with("active") || t == "a+b/c=" => serde_json::json!({
            "active": true, "sub": "user-1", "client_id": "gw-app",
            "scope": "orders.read orders.write", "exp": exp, "iss": "https://idp.test/"
        }),
        t if t.starts_with("slow-") => serde_json::json!({
            "active": true, "sub": "user-2", "scope": "orders.read", "exp": exp
        }),
        "expired" => serde_json::json!({ "active": true, "sub": "user-3", "exp": now() - 10 }),
        // Active, but with an identity that cannot become a header value.
        "sub-crlf" => {
            serde_json::json!({ "active": true, "sub": "user-1\r\nX-Admin: 1", "exp": exp })
        }
        "sub-nul" => serde_json::json!({ "active": true, "sub": "user-1\0", "exp": exp }),
        "client-crlf" => {
            serde_json::json!({ "active": true, "client_id": "app\r\nX: 1", "exp": exp })
        }
        "scope-comma" => {
            serde_json::json!({ "active": true, "sub": "user-2", "scope": ["orders.read,admin"], "exp": exp })
        }
        _ => serde_json::json!({ "active": false }),
    }
}

/// Minimal `application/x-www-form-urlencoded` decoding of one value.
fn decode(v: &str) -> String {
    let bytes = v.replace('+', " ").into_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Starts the endpoint on 127.0.0.1:0.
pub async fn spawn() -> Idp {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mode = Arc::new(AtomicU8::new(Mode::Normal as u8));
    let counts = Arc::new(Mutex::new(HashMap::new()));
    let bad = Arc::new(Mutex::new(Vec::new()));
    let state = (mode.clone(), counts.clone(), bad.clone());
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let state = state.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(handle(req, state).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Idp {
        addr,
        mode,
        counts,
        bad,
        task,
    }
}

type State = (
    Arc<AtomicU8>,
    Arc<Mutex<HashMap<String, usize>>>,
    Arc<Mutex<Vec<String>>>,
);

async fn handle(req: Request<Incoming>, (mode, counts, bad): State) -> Response<Full<Bytes>> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (auth, ctype) = (header("authorization"), header("content-type"));
    let post = req.method() == hyper::Method::POST && req.uri().path() == "/introspect";
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8_lossy(&body).into_owned();
    let token = body
        .strip_prefix("token=")
        .and_then(|b| b.strip_suffix("&token_type_hint=access_token"))
        .map(decode);
    let (true, true, Some(token)) = (
        post && auth == EXPECTED_BASIC,
        ctype == "application/x-www-form-urlencoded",
        token,
    ) else {
        bad.lock().unwrap().push(format!("{auth} {ctype} {body}"));
        return reply(StatusCode::UNAUTHORIZED, "{\"error\":\"invalid_client\"}");
    };
    *counts.lock().unwrap().entry(body).or_default() += 1;
    match mode.load(Ordering::SeqCst) {
        1 => tokio::time::sleep(Duration::from_secs(10)).await,
        2 => return reply(StatusCode::INTERNAL_SERVER_ERROR, "oops"),
        3 => return reply(StatusCode::OK, "<html>not json</html>"),
        _ => {}
    }
    if token.starts_with("slow-") {
        // Long enough for concurrent requests for the same token to pile up.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    reply(StatusCode::OK, &answer(&token).to_string())
}

fn reply(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap()
}
