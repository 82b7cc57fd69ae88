//! Client helpers for the `test.Echo` service, usually aimed at the gateway.

use std::fmt::Display;

use http::uri::PathAndQuery;
use tonic::client::Grpc;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status};
use tonic_prost::ProstCodec;

use super::{COUNT_PATH, CountReply, CountRequest, EchoReply, EchoRequest, SAY_PATH};

/// Calls `test.Echo/Say` at `target` (`host:port`, a `SocketAddr`, or an
/// `http://` URI) over h2c and returns the reply and the response trailers.
///
/// Errors: the call's [`Status`], or `UNAVAILABLE` if no connection could be made.
pub async fn grpc_say(
    target: impl Display,
    message: &str,
) -> Result<(EchoReply, MetadataMap), Status> {
    grpc_say_with_metadata(target, message, &[]).await
}

/// [`grpc_say`] with extra ASCII request metadata (`name`, `value`) pairs.
pub async fn grpc_say_with_metadata(
    target: impl Display,
    message: &str,
    metadata: &[(&'static str, &str)],
) -> Result<(EchoReply, MetadataMap), Status> {
    let mut request = Request::new(EchoRequest {
        message: message.to_owned(),
    });
    for &(name, value) in metadata {
        let value: MetadataValue<_> = value
            .parse()
            .map_err(|_| Status::invalid_argument(format!("bad metadata value for {name}")))?;
        request.metadata_mut().insert(name, value);
    }
    let mut client = connect(target).await?;
    // Called as a stream so that the trailers stay apart from the response headers.
    let mut replies = client
        .server_streaming(
            request,
            PathAndQuery::from_static(SAY_PATH),
            ProstCodec::<EchoRequest, EchoReply>::default(),
        )
        .await?
        .into_inner();
    let reply = replies
        .message()
        .await?
        .ok_or_else(|| Status::internal("Say: no reply message"))?;
    let trailers = replies.trailers().await?.unwrap_or_default();
    Ok((reply, trailers))
}

/// Calls the server-streaming `test.Echo/Count` with `n` and returns every `i`
/// received, in order, and the response trailers.
pub async fn grpc_count(target: impl Display, n: u32) -> Result<(Vec<u32>, MetadataMap), Status> {
    let mut client = connect(target).await?;
    let mut replies = client
        .server_streaming(
            Request::new(CountRequest { n }),
            PathAndQuery::from_static(COUNT_PATH),
            ProstCodec::<CountRequest, CountReply>::default(),
        )
        .await?
        .into_inner();
    let mut seen = Vec::new();
    while let Some(reply) = replies.message().await? {
        seen.push(reply.i);
    }
    let trailers = replies.trailers().await?.unwrap_or_default();
    Ok((seen, trailers))
}

/// Opens a fresh h2c channel to `target`.
async fn connect(target: impl Display) -> Result<Grpc<Channel>, Status> {
    let target = target.to_string();
    let uri = if target.contains("://") {
        target
    } else {
        format!("http://{target}")
    };
    let channel = Endpoint::from_shared(uri)
        .map_err(|e| Status::invalid_argument(format!("bad gRPC target: {e}")))?
        .connect()
        .await
        .map_err(|e| Status::unavailable(format!("connect: {e}")))?;
    let mut client = Grpc::new(channel);
    client
        .ready()
        .await
        .map_err(|e| Status::unavailable(format!("not ready: {e}")))?;
    Ok(client)
}
