//! Test material for the `jwt` end-to-end tests: tokens minted by PyJWT (`mint.py`, next to this
//! file) and a JWKS server (hyper on 127.0.0.1:0) whose keys can be rotated or made to fail, and
//! which counts fetches.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::Value;

pub const ISSUER: &str = "https://idp.test/";
pub const OTHER_ISSUER: &str = "https://other.test/";
pub const HS_ISSUER: &str = "https://hs.test/";
pub const SECRET: &str = "s3cret-s3cret-s3cret-s3cret-32by";

/// Runs `mint.py`; `None` (test skipped) when python3 or PyJWT + cryptography are missing, unless
/// `GATEHOUSE_REQUIRE_SERVERS=1` (then it panics).
pub fn mint() -> Option<Value> {
    if !gatehouse_testkit::require_server("python3") {
        return None;
    }
    let probe = std::process::Command::new("python3")
        .args(["-c", "import jwt, cryptography"])
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        if std::env::var("GATEHOUSE_REQUIRE_SERVERS").as_deref() == Ok("1") {
            panic!("python3 modules jwt (PyJWT) and cryptography are required");
        }
        eprintln!("SKIPPED: PyJWT + cryptography not installed");
        return None;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/jwt/mint.py");
    let out = std::process::Command::new("python3")
        .args([script, ISSUER, OTHER_ISSUER, HS_ISSUER, SECRET])
        .output()
        .expect("run mint.py");
    assert!(
        out.status.success(),
        "mint.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("mint.py prints JSON"))
}

/// A minted token by name.
pub fn token(m: &Value, name: &str) -> String {
    m["tokens"][name]
        .as_str()
        .unwrap_or_else(|| panic!("no token {name}"))
        .to_owned()
}

/// What the JWKS server serves.
pub struct JwksState {
    jwks: Mutex<String>,
    cache_control: Mutex<String>,
    fail: AtomicBool,
    fetches: AtomicUsize,
}

impl JwksState {
    /// Serves `jwks` from now on (key rotation).
    pub fn set_jwks(&self, jwks: &Value) {
        *self.jwks.lock().unwrap() = jwks.to_string();
    }
    /// Answers 503 (down) or serves again.
    pub fn set_fail(&self, fail: bool) {
        self.fail.store(fail, Ordering::SeqCst);
    }
    /// The `Cache-Control` header sent with the JWKS.
    pub fn set_cache_control(&self, value: &str) {
        *self.cache_control.lock().unwrap() = value.to_owned();
    }
    /// JWKS requests so far.
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

/// The JWKS server; stops when dropped.
pub struct JwksServer {
    pub addr: SocketAddr,
    pub state: Arc<JwksState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl JwksServer {
    pub async fn start(jwks: &Value) -> JwksServer {
        let state = Arc::new(JwksState {
            jwks: Mutex::new(jwks.to_string()),
            cache_control: Mutex::new("max-age=300".to_owned()),
            fail: AtomicBool::new(false),
            fetches: AtomicUsize::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let st = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let st = st.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| serve(st.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        JwksServer { addr, state, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}/jwks.json", self.addr)
    }
}

async fn serve(
    st: Arc<JwksState>,
    _req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    st.fetches.fetch_add(1, Ordering::SeqCst);
    let resp = if st.fail.load(Ordering::SeqCst) {
        Response::builder()
            .status(503)
            .body(Full::new(Bytes::from("down")))
    } else {
        Response::builder()
            .header("content-type", "application/json")
            .header("cache-control", st.cache_control.lock().unwrap().clone())
            .body(Full::new(Bytes::from(st.jwks.lock().unwrap().clone())))
    };
    Ok(resp.unwrap())
}
