use std::time::{Duration, Instant};

use super::{PREFACE, Status, WINDOW, Watcher};

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = len.to_be_bytes()[1..].to_vec();
    f.extend_from_slice(&[kind, flags]);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn ping() -> Vec<u8> {
    frame(0x6, 0, 0, &[7; 8])
}

fn settings() -> Vec<u8> {
    frame(0x4, 0, 0, &[0, 3, 0, 0, 0, 100])
}

/// A connection: preface, SETTINGS, one request (HEADERS + DATA carrying decoy frame headers).
fn opening() -> Vec<u8> {
    let mut s = PREFACE.to_vec();
    s.extend(settings());
    s.extend(frame(0x4, 1, 0, &[])); // SETTINGS ACK
    s.extend(frame(0x1, 0x4, 1, &[0x82, 0x86, 0x84])); // HEADERS, END_HEADERS
    // A DATA payload full of PING frame headers: never taken for frames.
    let decoys: Vec<u8> = (0..50).flat_map(|_| ping()).collect();
    s.extend(frame(0x0, 1, 1, &decoys));
    s.extend(frame(0x8, 0, 0, &[0, 0, 1, 0])); // WINDOW_UPDATE: not counted
    s
}

/// Feeds `stream` in pieces of the given sizes (cycled), all at `now`.
fn split(budget: u32, stream: &[u8], sizes: &[usize], now: Instant) -> Status {
    let mut w = Watcher::new(budget);
    let mut rest = stream;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].max(1).min(rest.len());
        let (piece, tail) = rest.split_at(n);
        let before = w.status();
        let after = w.feed(piece, now);
        assert!(
            before == Status::Watching || before == after,
            "{before:?} → {after:?}"
        );
        rest = tail;
        i += 1;
    }
    w.status()
}

/// The status of `stream` fed whole, byte by byte, in odd pieces and cut at every position.
fn all_ways(budget: u32, stream: &[u8]) -> Status {
    let now = Instant::now();
    let expected = Watcher::new(budget).feed(stream, now);
    for sizes in [
        &[1usize][..],
        &[2, 3],
        &[7, 1, 13],
        &[9],
        &[24],
        &[5, 11, 2, 29],
        &[4096],
    ] {
        assert_eq!(
            split(budget, stream, sizes, now),
            expected,
            "pieces {sizes:?}"
        );
    }
    for cut in 0..=stream.len() {
        let mut w = Watcher::new(budget);
        w.feed(&stream[..cut], now);
        assert_eq!(w.feed(&stream[cut..], now), expected, "cut at {cut}");
    }
    expected
}

#[test]
fn an_ordinary_connection_is_fine() {
    // One SETTINGS only: a budget of 1 is enough, however the bytes are split.
    assert_eq!(all_ways(1, &opening()), Status::Watching);
}

#[test]
fn a_ping_flood_is_seen_at_the_first_frame_over_the_budget() {
    let mut s = opening(); // 1 counted frame (SETTINGS)
    for _ in 0..9 {
        s.extend(ping());
    }
    assert_eq!(all_ways(10, &s), Status::Watching, "exactly at the budget");
    s.extend(ping());
    assert_eq!(all_ways(10, &s), Status::Flood, "one over");
}

#[test]
fn settings_resets_and_empty_frames_count_acks_do_not() {
    let counted = [
        settings(),
        frame(0x3, 0, 1, &[0, 0, 0, 8]), // RST_STREAM
        frame(0x0, 0, 1, &[]),           // empty DATA, no END_STREAM
        frame(0x9, 0, 1, &[]),           // empty CONTINUATION, no END_HEADERS
    ];
    for f in &counted {
        let mut s = PREFACE.to_vec();
        s.extend(f);
        s.extend(f);
        assert_eq!(all_ways(1, &s), Status::Flood, "{f:?}");
    }
    let not_counted = [
        frame(0x6, 1, 0, &[7; 8]),           // PING ACK
        frame(0x4, 1, 0, &[]),               // SETTINGS ACK
        frame(0x0, 1, 1, &[]),               // empty DATA ending the stream
        frame(0x0, 0, 1, b"x"),              // DATA with data
        frame(0x9, 0x4, 1, &[]),             // CONTINUATION ending the headers
        frame(0x2, 0, 1, &[0, 0, 0, 0, 16]), // PRIORITY
        frame(0x8, 0, 0, &[0, 0, 1, 0]),     // WINDOW_UPDATE
    ];
    for f in &not_counted {
        let mut s = PREFACE.to_vec();
        for _ in 0..100 {
            s.extend(f);
        }
        assert_eq!(all_ways(1, &s), Status::Watching, "{f:?}");
    }
}

#[test]
fn the_budget_is_per_window() {
    let t0 = Instant::now();
    let mut w = Watcher::new(3);
    assert_eq!(w.feed(PREFACE, t0), Status::Watching);
    for _ in 0..3 {
        assert_eq!(w.feed(&ping(), t0), Status::Watching);
    }
    // A new window starts once the old one is over.
    let later = t0 + WINDOW;
    for _ in 0..3 {
        assert_eq!(w.feed(&ping(), later), Status::Watching);
    }
    assert_eq!(
        w.feed(&ping(), later + Duration::from_secs(9)),
        Status::Flood
    );
    // Sticky.
    assert_eq!(w.feed(&settings(), later + WINDOW * 5), Status::Flood);
}

#[test]
fn http1_connections_are_not_watched() {
    for s in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\n\r\n",
        b"PRI * HTTP/1.1\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nXX",
    ] {
        assert_eq!(
            all_ways(1, s),
            Status::NotHttp2,
            "{:?}",
            String::from_utf8_lossy(s)
        );
    }
    // A prefix of the preface is still undecided.
    assert_eq!(all_ways(1, b"PRI * HTTP/2"), Status::Watching);
}

#[test]
fn large_and_huge_payloads_are_skipped() {
    let mut s = PREFACE.to_vec();
    s.extend(frame(0x0, 0, 1, &vec![0u8; 70_000]));
    s.extend(ping());
    s.extend(ping());
    assert_eq!(all_ways(1, &s), Status::Flood);
    // A 16 MiB - 1 frame length (the largest) is just skipped.
    let mut w = Watcher::new(1);
    w.feed(PREFACE, Instant::now());
    w.feed(&[0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 1], Instant::now());
    assert_eq!(
        w.feed(&vec![0u8; 1 << 20], Instant::now()),
        Status::Watching
    );
}

#[tokio::test]
async fn the_guard_fails_the_read_that_brings_the_flood() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let registry = gatehouse_metrics::Registry::new();
    let metrics = crate::metrics::ListenerMetrics::register("l", &registry);
    let (client, server) = tokio::io::duplex(1 << 20);
    let mut guard = super::H2Guard::new(server, 2, metrics.clone());
    let mut client = client;
    let mut ok = PREFACE.to_vec();
    ok.extend(settings());
    ok.extend(ping());
    client.write_all(&ok).await.unwrap();
    let mut buf = vec![0u8; ok.len()];
    guard.read_exact(&mut buf).await.unwrap();
    assert_eq!(buf, ok, "bytes pass unchanged");
    client.write_all(&ping()).await.unwrap();
    let err = guard.read(&mut buf).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionAborted);
    // And it stays failed.
    assert!(guard.read(&mut buf).await.is_err());
    assert_eq!(
        metrics.refusals(crate::metrics::Refusal::Http2FrameFlood),
        1
    );
}
