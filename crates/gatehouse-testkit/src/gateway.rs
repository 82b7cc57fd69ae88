//! The gateway under test: started in-process from YAML on ephemeral loopback ports, with its
//! admin listener, plus small HTTP helpers to talk to it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use gatehouse_core::Gateway;
use gatehouse_core::reload::Reloader;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// A running in-process gateway and the config file it was loaded from.
pub struct TestGateway {
    /// The gateway.
    pub gateway: Gateway,
    /// Address of the first listener.
    pub addr: SocketAddr,
    /// Address of the admin listener, when the config enables it.
    pub admin: Option<SocketAddr>,
    /// Reloads from [`TestGateway::config_path`].
    pub reloader: Arc<Reloader>,
    dir: PathBuf,
}

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

/// A fresh, empty scratch directory for one test.
pub fn scratch_dir() -> PathBuf {
    let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("gatehouse-test-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

impl TestGateway {
    /// Writes `yaml` to a scratch file, loads it and starts the gateway (and its admin listener
    /// when the config has one). Panics with the diagnostics if the config is refused.
    pub async fn start(yaml: &str) -> TestGateway {
        let dir = scratch_dir();
        let path = dir.join("gatehouse.yaml");
        std::fs::write(&path, yaml).expect("write config");
        let config = gatehouse_config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let admin_cfg = config.admin.clone();
        let gateway = Gateway::start(config)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = gateway.listener_addrs()[0].1;
        let reloader = Arc::new(Reloader::new(&path, gateway.clone()));
        let admin = match admin_cfg {
            Some(a) => Some(
                gatehouse_admin::spawn(a.address, a.token, reloader.clone())
                    .await
                    .unwrap_or_else(|e| panic!("{e}")),
            ),
            None => None,
        };
        TestGateway {
            gateway,
            addr,
            admin,
            reloader,
            dir,
        }
    }

    /// The config file.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("gatehouse.yaml")
    }

    /// The scratch directory (for certificates and extra files).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `http://ADDR` of the first listener.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A minimal YAML config: one listener on an ephemeral port, admin on an ephemeral port, one
/// upstream `backend` with the given targets, and `routes` / `plugins` YAML appended verbatim.
pub fn config(targets: &[SocketAddr], upstream_extra: &str, routes: &str) -> String {
    let targets: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
    format!(
        "listeners:\n  - name: public\n    address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\nserver:\n  watch: false\n  shutdown_timeout: 5s\nupstreams:\n  backend:\n    targets: [{}]\n{upstream_extra}\n{routes}\n",
        targets.join(", ")
    )
}

/// A plain HTTP/1.1 client with keep-alive.
pub fn http_client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// A response read whole: status, headers, body.
pub struct Reply {
    /// Status.
    pub status: http::StatusCode,
    /// Headers.
    pub headers: http::HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON (panics with the body when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends `req` with `client` and reads the whole response.
pub async fn send(
    client: &Client<HttpConnector, Full<Bytes>>,
    req: http::Request<Full<Bytes>>,
) -> Result<Reply, crate::BoxError> {
    let resp = client.request(req).await?;
    let (parts, body) = resp.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

/// How long any single test step may take before the test fails as hung.
pub const STEP_LIMIT: std::time::Duration = std::time::Duration::from_secs(15);

/// Awaits `f`, failing the test with `what` if it takes longer than [`STEP_LIMIT`].
pub async fn within<F: std::future::Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(STEP_LIMIT, f)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// GET `url` with optional extra headers (bounded by [`STEP_LIMIT`]).
pub async fn get(url: &str, headers: &[(&str, &str)]) -> Reply {
    within(url, get_unbounded(url, headers)).await
}

async fn get_unbounded(url: &str, headers: &[(&str, &str)]) -> Reply {
    let mut req = http::Request::get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::new())).expect("request");
    send(&http_client(), req)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// Writes raw bytes to `addr`, half-closes, and reads everything the server sends back until it
/// closes or `timeout` passes.
pub async fn raw_exchange(
    addr: SocketAddr,
    request: &[u8],
    timeout: std::time::Duration,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(timeout, stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}
