//! The `test.Echo` server, served by the crate's shared HTTP accept loop (h2c).

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use http::{HeaderName, HeaderValue};
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use tonic::server::{Grpc, ServerStreamingService, UnaryService};
use tonic::{Code, Request, Response, Status};
use tonic_prost::ProstCodec;

use super::{
    COUNT_PATH, CountReply, CountRequest, EchoReply, EchoRequest, GRPC_FAIL, GRPC_TRAILER, SAY_PATH,
};
use crate::upstream::{HttpMode, ResponseBody, Upstream, spawn_http};

/// Spawns the `test.Echo` gRPC upstream (HTTP/2 with prior knowledge; HTTP/1.1
/// is accepted at the connection level but gRPC needs HTTP/2). Each call counts
/// as a hit. See the [module docs](crate::grpc) for the behaviour.
pub async fn spawn_grpc() -> Upstream {
    spawn_http(HttpMode::Auto, route).await
}

/// Dispatches one HTTP request to a method of `test.Echo`.
async fn route(req: http::Request<Incoming>, _server: SocketAddr) -> http::Response<ResponseBody> {
    let response = match req.uri().path() {
        SAY_PATH => Grpc::new(ProstCodec::default()).unary(Say, req).await,
        COUNT_PATH => {
            Grpc::new(ProstCodec::default())
                .server_streaming(Count, req)
                .await
        }
        other => Status::unimplemented(format!("no method {other}")).into_http(),
    };
    response.map(|body| {
        body.map_frame(add_trailer)
            .map_err(Into::into)
            .boxed_unsync()
    })
}

/// Adds [`GRPC_TRAILER`] to the trailers frame (present only on successful calls).
fn add_trailer(mut frame: Frame<bytes::Bytes>) -> Frame<bytes::Bytes> {
    if let Some(trailers) = frame.trailers_mut() {
        trailers.insert(
            HeaderName::from_static(GRPC_TRAILER.0),
            HeaderValue::from_static(GRPC_TRAILER.1),
        );
    }
    frame
}

/// `test.Echo/Say`.
struct Say;

impl UnaryService<EchoRequest> for Say {
    type Response = EchoReply;
    type Future = BoxFuture<'static, Result<Response<EchoReply>, Status>>;

    fn call(&mut self, request: Request<EchoRequest>) -> Self::Future {
        let seen_metadata = seen_metadata(&request);
        let message = request.into_inner().message;
        Box::pin(async move {
            if message == GRPC_FAIL {
                return Err(Status::not_found(GRPC_FAIL));
            }
            if let Some(code) = message.strip_prefix("fail:") {
                let code = code
                    .parse::<i32>()
                    .map_err(|_| Status::invalid_argument("fail:{code}"))?;
                return Err(Status::new(Code::from(code), GRPC_FAIL));
            }
            if let Some(ms) = message.strip_prefix("sleep:") {
                let ms = ms
                    .parse::<u64>()
                    .map_err(|_| Status::invalid_argument("sleep:{ms}"))?;
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            Ok(Response::new(EchoReply {
                message,
                seen_metadata,
            }))
        })
    }
}

/// Sorted `name: value` lines of the request metadata.
fn seen_metadata<T>(request: &Request<T>) -> Vec<String> {
    let mut seen: Vec<String> = request
        .metadata()
        .clone()
        .into_headers()
        .iter()
        .map(|(name, value)| format!("{name}: {}", String::from_utf8_lossy(value.as_bytes())))
        .collect();
    seen.sort();
    seen
}

/// `test.Echo/Count`.
struct Count;

impl ServerStreamingService<CountRequest> for Count {
    type Response = CountReply;
    type ResponseStream = BoxStream<'static, Result<CountReply, Status>>;
    type Future = std::future::Ready<Result<Response<Self::ResponseStream>, Status>>;

    fn call(&mut self, request: Request<CountRequest>) -> Self::Future {
        let n = request.into_inner().n;
        let replies = futures_util::stream::iter((0..n).map(|i| Ok(CountReply { i })));
        std::future::ready(Ok(Response::new(Box::pin(replies))))
    }
}
