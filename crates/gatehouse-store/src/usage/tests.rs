use std::sync::Arc;
use std::time::Duration;

use gatehouse_config::model::{RedisStore, StoreFailure};
use gatehouse_testkit::redis::spawn_redis;

use super::*;
use crate::quota::{ManualWallClock, WallClock};

/// 2026-11-22T10:59:59Z.
const T: u64 = 1_795_345_199;

fn query(from: &str, to: &str) -> UsageQuery {
    UsageQuery {
        from_hour: parse_hour(from).unwrap(),
        to_hour: parse_hour(to).unwrap(),
        consumer: None,
        route: None,
    }
}

fn row(hour: &str, consumer: &str, route: &str, class: u8, requests: u64) -> UsageRow {
    UsageRow {
        hour: parse_hour(hour).unwrap(),
        consumer: consumer.into(),
        route: route.into(),
        class,
        requests,
    }
}

fn memory_meter(clock: &Arc<ManualWallClock>, max_series: usize) -> UsageMeter {
    let store = MemoryUsage::new(Duration::from_secs(35 * 86_400), 1000, clock.clone());
    UsageMeter::new(Arc::new(store), max_series, clock.clone())
}

#[test]
fn hours_are_parsed_and_printed_in_utc() {
    assert_eq!(hour_label(T / HOUR), "2026-11-22T10:00:00Z");
    assert_eq!(hour_key(T / HOUR), "2026112210");
    for text in [
        "2026-11-22T10",
        "2026-11-22T10:00",
        "2026-11-22T10:00:00Z",
        "2026-11-22T10Z",
    ] {
        assert_eq!(parse_hour(text), Some(T / HOUR), "{text}");
    }
    assert_eq!(
        parse_hour("2024-02-29T23").map(hour_label).unwrap(),
        "2024-02-29T23:00:00Z"
    );
    for bad in [
        "2026-02-30T10",
        "2026-11-22T24",
        "2026-11-22T10:30",
        "2026-13-01T00",
        "1969-12-31T23",
        "2026-11-22",
        "2026-11-2T10",
        "+026-11-22T10",
        "",
    ] {
        assert_eq!(parse_hour(bad), None, "{bad}");
    }
    assert_eq!(status_class(204), Some(2));
    assert_eq!(status_class(99), None);
    assert_eq!(status_class(600), None);
    assert_eq!(parse_class("4xx"), Some(4));
    assert_eq!(parse_class("6xx"), None);
}

#[tokio::test]
async fn counts_are_aggregated_per_consumer_route_class_and_hour() {
    let clock = Arc::new(ManualWallClock::at(T));
    let meter = memory_meter(&clock, 100);
    let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a"), Arc::from("b"));
    for status in [200, 201, 204, 404, 503] {
        meter.record("acme", &a, status);
    }
    meter.record("acme", &Arc::from("b"), 200);
    meter.record("zeta", &b, 200);
    meter.record("zeta", &b, 700); // not a status: not counted
    // The hour boundary: 10:59:59 → 11:00:00.
    clock.set(T + 1);
    meter.record("acme", &a, 200);
    let rows = meter
        .read(&query("2026-11-22T10", "2026-11-22T12"))
        .await
        .unwrap();
    assert_eq!(
        rows,
        [
            row("2026-11-22T10", "acme", "a", 2, 3),
            row("2026-11-22T10", "acme", "a", 4, 1),
            row("2026-11-22T10", "acme", "a", 5, 1),
            row("2026-11-22T10", "acme", "b", 2, 1),
            row("2026-11-22T10", "zeta", "b", 2, 1),
            row("2026-11-22T11", "acme", "a", 2, 1),
        ]
    );
    // Flushed counts are not counted twice; filters and the exclusive end apply.
    meter.record("acme", &a, 200);
    let mut q = query("2026-11-22T11", "2026-11-22T12");
    q.consumer = Some("acme".into());
    q.route = Some("a".into());
    assert_eq!(
        meter.read(&q).await.unwrap(),
        [row("2026-11-22T11", "acme", "a", 2, 2)]
    );
    assert!(
        meter
            .read(&query("2026-11-22T12", "2026-11-22T13"))
            .await
            .unwrap()
            .is_empty()
    );
    // Cumulative series for Prometheus.
    let series = meter.series();
    assert_eq!(series.len(), 5);
    assert_eq!(
        (
            &*series[0].consumer,
            &*series[0].route,
            series[0].class,
            series[0].requests
        ),
        ("acme", "a", 2, 5)
    );
}

#[tokio::test]
async fn series_beyond_the_cap_fold_into_other() {
    let clock = Arc::new(ManualWallClock::at(T));
    let meter = memory_meter(&clock, 2);
    let r: Arc<str> = Arc::from("r");
    meter.record("c1", &r, 200);
    meter.record("c2", &r, 200);
    meter.record("c3", &r, 200);
    meter.record("c4", &r, 200);
    meter.record("c4", &r, 500);
    meter.record("c1", &r, 200);
    let got: Vec<(String, u8, u64)> = meter
        .series()
        .into_iter()
        .map(|s| (s.consumer.to_string(), s.class, s.requests))
        .collect();
    assert_eq!(
        got,
        [
            (OTHER.to_owned(), 2, 2),
            (OTHER.to_owned(), 5, 1),
            ("c1".to_owned(), 2, 2),
            ("c2".to_owned(), 2, 1),
        ]
    );
    assert_eq!(meter.overflow(), 3);
    // Billing rows are exact whatever the Prometheus cap.
    let rows = meter
        .read(&query("2026-11-22T10", "2026-11-22T11"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 5);
}

#[tokio::test]
async fn memory_rows_are_bounded_by_retention_and_count() {
    let clock = Arc::new(ManualWallClock::at(T));
    let store = MemoryUsage::new(Duration::from_secs(2 * HOUR), 3, clock.clone());
    let meter = UsageMeter::new(Arc::new(store), 100, clock.clone());
    let r: Arc<str> = Arc::from("r");
    meter.record("a", &r, 200);
    clock.set(T + HOUR);
    meter.record("b", &r, 200);
    meter.flush().await.unwrap();
    // At 12:59:59 the 10:00 hour ended 1h59m59s ago: still kept.
    clock.set(T + 2 * HOUR);
    meter.record("c", &r, 200);
    meter.flush().await.unwrap();
    let all = query("2026-11-22T00", "2026-11-23T00");
    assert_eq!(meter.read(&all).await.unwrap().len(), 3);
    // At 13:00 it ended 2 h ago: gone.
    clock.set(T + 2 * HOUR + 1);
    let rows = meter.read(&all).await.unwrap();
    let consumers: Vec<&str> = rows.iter().map(|r| r.consumer.as_str()).collect();
    assert_eq!(consumers, ["b", "c"]);
    // At most 3 rows: the oldest go first.
    for c in ["d", "e"] {
        meter.record(c, &r, 200);
    }
    let rows = meter.read(&all).await.unwrap();
    let consumers: Vec<&str> = rows.iter().map(|r| r.consumer.as_str()).collect();
    assert_eq!(consumers, ["c", "d", "e"]);
}

fn redis_cfg(url: String) -> RedisStore {
    RedisStore {
        url,
        timeout: Duration::from_millis(500),
        connections: 1,
        on_failure: StoreFailure::Local,
        retry_after: Duration::from_secs(1),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_sums_two_instances_and_keeps_counts_while_down() {
    let Some(mut server) = spawn_redis() else {
        return;
    };
    // The last second of the current hour of the real clock: Redis expires each hour's hash on its
    // own clock (`EXPIREAT` = end of the hour + retention), so the hour must be a recent one.
    let hour = crate::quota::SystemWallClock.now_unix() / HOUR;
    let clock = Arc::new(ManualWallClock::at(hour * HOUR + HOUR - 1));
    let label = hour_label(hour);
    let retention = Duration::from_secs(86_400);
    let meter = |clock: &Arc<ManualWallClock>| {
        let store = RedisUsage::new(&redis_cfg(server.url()), retention).unwrap();
        UsageMeter::new(Arc::new(store), 100, clock.clone())
    };
    let (one, two) = (meter(&clock), meter(&clock));
    let r: Arc<str> = Arc::from("r");
    for _ in 0..3 {
        one.record("acme", &r, 200);
    }
    two.record("acme", &r, 200);
    two.record("acme", &r, 429);
    one.flush().await.unwrap();
    let q = query(&label, &hour_label(hour + 1));
    assert_eq!(
        two.read(&q).await.unwrap(),
        [
            row(&label, "acme", "r", 2, 4),
            row(&label, "acme", "r", 4, 1)
        ]
    );

    // The documented layout, read with plain commands.
    let client = ::redis::Client::open(server.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("gatehouse:usage:{{{}}}", hour_key(hour));
    let v: u64 = ::redis::cmd("HGET")
        .arg(&key)
        .arg("acme\x1fr\x1f2xx")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(v, 4);
    let ttl: i64 = ::redis::cmd("TTL")
        .arg(&key)
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(ttl > 0, "expiring key, TTL {ttl}");

    // Redis down: the flush fails, the counts are kept, and written after the restart.
    server.stop();
    one.record("acme", &r, 200);
    assert!(one.flush().await.is_err());
    assert!(one.is_failing());
    one.record("acme", &r, 200);
    assert!(one.flush().await.is_err());
    server.restart();
    let mut flushed = false;
    for _ in 0..50 {
        if one.flush().await.is_ok() {
            flushed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(flushed, "flush after restart");
    assert!(!one.is_failing());
    // The restarted Redis is empty: exactly the 2 requests recorded while it was down.
    assert_eq!(
        one.read(&q).await.unwrap(),
        [row(&label, "acme", "r", 2, 2)]
    );
    assert_eq!(one.dropped(), 0);
}
