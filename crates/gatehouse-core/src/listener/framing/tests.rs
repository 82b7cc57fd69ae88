use std::sync::Arc;

use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Scanner, Status};
use crate::listener::Activity;

/// The text that, inside a body, must never be taken for headers.
const DECOY: &str = "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n";

fn whole(stream: &[u8]) -> Status {
    Scanner::new().feed(stream)
}

/// Feeds `stream` in pieces of the given sizes (cycled), checking the status never goes back.
fn split(stream: &[u8], sizes: &[usize]) -> Status {
    let mut scanner = Scanner::new();
    let mut rest = stream;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes
            .get(i % sizes.len().max(1))
            .copied()
            .unwrap_or(1)
            .max(1);
        let (piece, tail) = rest.split_at(n.min(rest.len()));
        let before = scanner.status();
        let after = scanner.feed(piece);
        assert!(
            before == Status::Scanning || before == after,
            "{before:?} → {after:?}"
        );
        rest = tail;
        i += 1;
    }
    scanner.status()
}

/// The status of `stream` fed whole, byte by byte, and cut at every single position.
fn all_ways(stream: &[u8]) -> Status {
    let expected = whole(stream);
    assert_eq!(split(stream, &[1]), expected, "byte by byte");
    for cut in 0..=stream.len() {
        let mut scanner = Scanner::new();
        scanner.feed(&stream[..cut]);
        assert_eq!(scanner.feed(&stream[cut..]), expected, "cut at {cut}");
    }
    for sizes in [&[2usize, 3][..], &[7, 1, 13], &[64], &[5, 11, 2, 29]] {
        assert_eq!(split(stream, sizes), expected, "pieces {sizes:?}");
    }
    expected
}

fn keep_alive_stream() -> Vec<u8> {
    let mut s = String::new();
    s += "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
    s += &format!(
        "POST /b HTTP/1.1\r\nHost: x\r\ncontent-length: {}\r\n\r\n{DECOY}",
        DECOY.len()
    );
    s += &format!(
        "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n{:x};ext=1\r\n{DECOY}\r\n3\r\nabc\r\n0\r\nX-Trailer: {DECOY}",
        DECOY.len()
    );
    s += "\r\n\n\r\nPUT /d HTTP/1.1\nHost: x\nContent-Length:  3 \n\nxyz";
    s += &format!(
        "POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1A \t;a=\"b\"\r\n{}\r\n0\r\n\r\n",
        &"Transfer-Encoding: chunked\r\n\r\n"[..26]
    );
    s += "GET /f HTTP/1.1\r\nX-Content-Length: 1\r\nX-Transfer-Encoding: chunked\r\n\r\n";
    s += "GET /g HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n";
    s.into_bytes()
}

#[test]
fn keep_alive_requests_with_header_like_bodies_are_fine() {
    let stream = keep_alive_stream();
    assert_eq!(all_ways(&stream), Status::Scanning);
    // …and the scanner is back at a request boundary: a conflict right after is seen.
    let mut more = stream.clone();
    more.extend_from_slice(
        b"POST /h HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    assert_eq!(all_ways(&more), Status::Conflict);
}

#[test]
fn both_headers_in_any_order_case_and_spacing_conflict() {
    let heads = [
        "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
        "POST / HTTP/1.1\r\ncontent-length:5\r\nTRANSFER-ENCODING:\tchunked \r\n\r\n",
        "POST / HTTP/1.1\r\nTrAnSfEr-EnCoDiNg:  gzip\r\nX: y\r\nCoNtEnT-lEnGtH:   0  \r\n\r\n",
        "POST / HTTP/1.1\nHost: x\nContent-Length: nonsense\nTransfer-Encoding: identity\n\n",
        "POST / HTTP/1.1\r\nContent-Length : 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        "\r\n\r\nPOST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
    ];
    for head in heads {
        assert_eq!(all_ways(head.as_bytes()), Status::Conflict, "{head:?}");
    }
}

#[test]
fn a_conflict_after_earlier_requests_is_seen() {
    let stream = format!(
        "POST /a HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcdPOST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwxyz\r\n0\r\n\r\nGET /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\ncontent-length: 1\r\n\r\n{DECOY}"
    );
    assert_eq!(all_ways(stream.as_bytes()), Status::Conflict);
}

#[test]
fn incomplete_heads_do_not_conclude() {
    let head = b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n";
    assert_eq!(all_ways(head), Status::Scanning);
    let mut scanner = Scanner::new();
    scanner.feed(head);
    assert_eq!(scanner.feed(b"\r\n"), Status::Conflict);
}

#[test]
fn what_hyper_refuses_stops_the_scan() {
    let streams: [&[u8]; 8] = [
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a\nb\r\nhello\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\nhello",
        b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    ];
    for stream in streams {
        let shown = String::from_utf8_lossy(stream);
        assert_eq!(all_ways(stream), Status::Unparsable, "{shown:?}");
    }
    let huge_chunk = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\n";
    assert_eq!(all_ways(huge_chunk), Status::Unparsable);
}

#[test]
fn trailers_and_extensions_are_followed() {
    let stream = format!(
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y;z\r\nabc\r\n0;last\r\nA: b\r\nContent-Length: 7\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n{DECOY}",
        DECOY.len()
    );
    assert_eq!(all_ways(stream.as_bytes()), Status::Scanning);
}

#[test]
fn the_http2_preface_disables_scanning() {
    let mut stream = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    stream.extend_from_slice(
        b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    assert_eq!(all_ways(&stream), Status::Http2);
    // A request line that merely starts like the preface is HTTP/1.
    let near = b"PRI * HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_eq!(all_ways(near), Status::Conflict);
    let p = b"P\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_eq!(all_ways(p), Status::Conflict);
}

#[test]
fn stop_ends_scanning_and_keeps_a_verdict() {
    let mut scanner = Scanner::new();
    scanner.feed(b"GET /ws HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n");
    assert_eq!(scanner.status(), Status::Scanning);
    scanner.stop();
    assert_eq!(
        scanner.feed(b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
        Status::Stopped
    );
    let mut conflicted = Scanner::new();
    conflicted.feed(b"GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n");
    conflicted.stop();
    assert_eq!(conflicted.status(), Status::Conflict);
}

#[test]
fn long_names_and_lines_need_no_buffer() {
    let long = "x".repeat(100_000);
    let stream = format!(
        "GET /{long} HTTP/1.1\r\nContent-Length-{long}: 1\r\nTransfer-Encoding{long}: chunked\r\nX: {long}\r\n\r\nGET / HTTP/1.1\r\n\r\n"
    );
    assert_eq!(split(stream.as_bytes(), &[1]), Status::Scanning);
    assert_eq!(whole(stream.as_bytes()), Status::Scanning);
}

#[tokio::test]
async fn the_guard_passes_bytes_through_and_raises_the_flag() {
    let activity = Arc::new(Activity::default());
    let (client, server) = tokio::io::duplex(64);
    let mut guard = super::FramingGuard::new(server, activity.clone());
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let good = format!(
        "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n{DECOY}",
        DECOY.len()
    );
    let bad = "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n";
    let sent = format!("{good}{bad}");
    let writer = {
        let sent = sent.clone();
        tokio::spawn(async move {
            client_write.write_all(sent.as_bytes()).await.unwrap();
            client_write.shutdown().await.unwrap();
        })
    };
    let mut got = vec![0u8; good.len()];
    guard.read_exact(&mut got).await.unwrap();
    assert!(!activity.framing.conflict());
    let mut rest = Vec::new();
    guard.read_to_end(&mut rest).await.unwrap();
    got.extend_from_slice(&rest);
    assert_eq!(got, sent.as_bytes());
    assert!(activity.framing.conflict());
    writer.await.unwrap();

    guard.write_all(b"reply").await.unwrap();
    guard.flush().await.unwrap();
    let mut reply = [0u8; 5];
    client_read.read_exact(&mut reply).await.unwrap();
    assert_eq!(&reply, b"reply");
}

#[tokio::test]
async fn the_guard_stops_when_told() {
    let activity = Arc::new(Activity::default());
    let (mut client, server) = tokio::io::duplex(256);
    let mut guard = super::FramingGuard::new(server, activity.clone());
    activity.framing.stop_scanning();
    client
        .write_all(b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n")
        .await
        .unwrap();
    drop(client);
    let mut all = Vec::new();
    guard.read_to_end(&mut all).await.unwrap();
    assert!(!activity.framing.conflict());
}

/// Streams made of pieces that matter to the scanner, glued at random.
fn http_ish() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop::sample::select(vec![
        &b"GET / HTTP/1.1\r\n"[..],
        b"POST /x HTTP/1.1\n",
        b"PRI * HTTP/2.0",
        b"Content-Length: 3\r\n",
        b"content-length:0\n",
        b"Transfer-Encoding: chunked\r\n",
        b"transfer-encoding: gzip,chunked\r\n",
        b"\r\n",
        b"\n",
        b"\r",
        b"5\r\n",
        b"0\r\n",
        b"a;b=c\r\n",
        b"hello",
        b":",
        b" ",
    ]);
    prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_and_splits_agree(
        stream in prop::collection::vec(any::<u8>(), 0..600),
        sizes in prop::collection::vec(1usize..40, 1..8),
    ) {
        let expected = whole(&stream);
        prop_assert_eq!(split(&stream, &sizes), expected);
        prop_assert_eq!(split(&stream, &[1]), expected);
    }

    #[test]
    fn http_like_streams_agree_across_splits(
        stream in http_ish(),
        sizes in prop::collection::vec(1usize..20, 1..8),
    ) {
        let expected = whole(&stream);
        prop_assert_eq!(split(&stream, &sizes), expected);
        prop_assert_eq!(split(&stream, &[1]), expected);
    }
}
