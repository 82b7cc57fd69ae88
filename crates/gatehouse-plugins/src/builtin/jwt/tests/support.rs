//! Test material: tokens minted by PyJWT (`crates/gatehouse/tests/jwt/mint.py`) and a real JWKS
//! HTTP server whose keys can be rotated, slowed down or made to fail, and which counts fetches.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

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

/// The minted material, once per test binary; `None` (test skipped) without python3 + PyJWT
/// unless `GATEHOUSE_REQUIRE_SERVERS=1`.
pub fn minted() -> Option<&'static Value> {
    static MINTED: OnceLock<Option<Value>> = OnceLock::new();
    MINTED
        .get_or_init(|| {
            let script = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../gatehouse/tests/jwt/mint.py"
            );
            let out = std::process::Command::new("python3")
                .args([script, ISSUER, OTHER_ISSUER, HS_ISSUER, SECRET])
                .output();
            match out {
                Ok(o) if o.status.success() => {
                    Some(serde_json::from_slice(&o.stdout).expect("mint.py JSON"))
                }
                other => {
                    if std::env::var("GATEHOUSE_REQUIRE_SERVERS").as_deref() == Ok("1") {
                        panic!("python3 with PyJWT + cryptography required: {other:?}");
                    }
                    eprintln!("SKIPPED: python3 with PyJWT + cryptography not available");
                    None
                }
            }
        })
        .as_ref()
}

/// A minted token by name.
pub fn token(m: &Value, name: &str) -> String {
    m["tokens"][name]
        .as_str()
        .unwrap_or_else(|| panic!("no token {name}"))
        .to_owned()
}

/// What the JWKS server serves and how.
pub struct JwksState {
    pub jwks: Mutex<String>,
    pub cache_control: Mutex<Option<String>>,
    pub fail: Mutex<bool>,
    pub delay: Mutex<Duration>,
    pub discovery_issuer: Mutex<String>,
    pub fetches: AtomicUsize,
    pub discoveries: AtomicUsize,
}

impl JwksState {
    pub fn set_jwks(&self, jwks: &Value) {
        *self.jwks.lock().unwrap() = jwks.to_string();
    }
    pub fn set_fail(&self, fail: bool) {
        *self.fail.lock().unwrap() = fail;
    }
    pub fn set_delay(&self, delay: Duration) {
        *self.delay.lock().unwrap() = delay;
    }
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

/// A JWKS server on 127.0.0.1:0: `/jwks.json` and `/.well-known/openid-configuration`.
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
            cache_control: Mutex::new(Some("max-age=300".to_owned())),
            fail: Mutex::new(false),
            delay: Mutex::new(Duration::ZERO),
            discovery_issuer: Mutex::new(ISSUER.to_owned()),
            fetches: AtomicUsize::new(0),
            discoveries: AtomicUsize::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let st = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let st = st.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| serve(st.clone(), addr, req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        JwksServer { addr, state, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

async fn serve(
    st: Arc<JwksState>,
    addr: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let delay = *st.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let (status, body, cache) = if req.uri().path() == "/.well-known/openid-configuration" {
        st.discoveries.fetch_add(1, Ordering::SeqCst);
        let issuer = st.discovery_issuer.lock().unwrap().clone();
        let doc =
            serde_json::json!({"issuer": issuer, "jwks_uri": format!("http://{addr}/jwks.json")});
        (200, doc.to_string(), None)
    } else {
        st.fetches.fetch_add(1, Ordering::SeqCst);
        if *st.fail.lock().unwrap() {
            (503, "down".to_owned(), None)
        } else {
            (
                200,
                st.jwks.lock().unwrap().clone(),
                st.cache_control.lock().unwrap().clone(),
            )
        }
    };
    let mut resp = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    if let Some(c) = cache {
        resp = resp.header("cache-control", c);
    }
    Ok(resp.body(Full::new(Bytes::from(body))).unwrap())
}
