//! Test origins and configuration builders.

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use gatehouse_config::model::{
    Balance, PassiveHealth, Pool, Target, Upstream, UpstreamProtocol, UpstreamTimeouts,
};
use gatehouse_upstream::{Cluster, ProxyBody};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// The response type of test handlers.
pub type Reply = Response<Full<Bytes>>;
type Handler =
    Arc<dyn Fn(Request<Incoming>) -> Pin<Box<dyn Future<Output = Reply> + Send>> + Send + Sync>;

/// A running origin: its address and the number of connections it accepted.
pub struct Origin {
    pub addr: SocketAddr,
    pub connections: Arc<AtomicUsize>,
}

impl Origin {
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Serves HTTP/1.1 (with upgrades) and h2c prior knowledge, or TLS with ALPN when `tls` is set.
pub async fn serve<F, Fut>(tls: Option<TlsAcceptor>, handler: F) -> Origin
where
    F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
{
    let handler: Handler = Arc::new(move |req| Box::pin(handler(req)));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            let handler = handler.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let handler = handler.clone();
                    async move { Ok::<_, Infallible>(handler(req).await) }
                });
                let builder = auto::Builder::new(TokioExecutor::new());
                let _ = match tls {
                    None => {
                        builder
                            .serve_connection_with_upgrades(TokioIo::new(stream), service)
                            .await
                    }
                    Some(acceptor) => {
                        let Ok(stream) = acceptor.accept(stream).await else {
                            return;
                        };
                        builder
                            .serve_connection_with_upgrades(TokioIo::new(stream), service)
                            .await
                    }
                };
            });
        }
    });
    Origin { addr, connections }
}

/// A reply with this status and body.
pub fn reply(status: u16, body: impl Into<Bytes>) -> Reply {
    Response::builder()
        .status(status)
        .body(Full::new(body.into()))
        .unwrap()
}

/// An HTTP/1.1 round-robin cluster over `addresses` with the defaults of the config model.
pub fn upstream(addresses: &[String]) -> Upstream {
    Upstream {
        name: "test".into(),
        targets: addresses
            .iter()
            .map(|address| Target {
                address: address.clone(),
                weight: 1,
            })
            .collect(),
        balance: Balance::RoundRobin,
        health_check: None,
        passive_health: Some(PassiveHealth::default()),
        timeouts: UpstreamTimeouts {
            connect: Duration::from_secs(2),
            request: Duration::from_secs(5),
            idle: Duration::from_secs(90),
            ..Default::default()
        },
        protocol: UpstreamProtocol::Http1,
        tls: None,
        pool: Pool::default(),
        resilience: Default::default(),
    }
}

/// An empty request body.
pub fn empty() -> ProxyBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// A GET of `path` (origin-form), as the data plane hands it over.
pub fn get(path: &str) -> Request<ProxyBody> {
    Request::builder()
        .uri(path)
        .header("host", "example.test")
        .body(empty())
        .unwrap()
}

/// The client address used in tests.
pub fn client_ip() -> IpAddr {
    IpAddr::from([127, 0, 0, 1])
}

/// Selects a target for `GET path` and sends it; returns status and body.
pub async fn fetch(
    cluster: &Cluster,
    path: &str,
) -> Result<(u16, String), gatehouse_upstream::Error> {
    let req = get(path);
    let (head, body) = req.into_parts();
    let target = cluster.select(&head, client_ip()).expect("a usable target");
    let response = cluster
        .send(&target, Request::from_parts(head, body))
        .await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    drop(target);
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Polls `condition` every 10 ms for up to `within`.
pub async fn eventually(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    condition()
}
