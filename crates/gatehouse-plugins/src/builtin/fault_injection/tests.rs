use std::time::Duration;

use gatehouse_config::model::{FaultAbort, FaultDelay, FaultInjectionConfig};
use http::StatusCode;
use tokio::time::Instant;

use super::*;
use crate::builtin::testing::{cx, req};

fn low() -> f64 {
    0.0
}

fn high() -> f64 {
    0.999_999
}

fn mid() -> f64 {
    0.25
}

fn config(
    delay: Option<(u64, f64)>,
    abort: Option<(u16, f64)>,
    header: bool,
) -> FaultInjectionConfig {
    FaultInjectionConfig {
        delay: delay.map(|(ms, percentage)| FaultDelay {
            duration: Duration::from_millis(ms),
            percentage,
        }),
        abort: abort.map(|(status, percentage)| FaultAbort { status, percentage }),
        header_control: header,
    }
}

/// Runs the access hook; returns the answer's status (None = continued) and the time waited.
async fn run(p: &FaultInjection, headers: &[(&str, &str)]) -> (Option<StatusCode>, Duration) {
    let mut cx = cx();
    let mut parts = req("GET", headers);
    let start = Instant::now();
    let flow = p.on_access(&mut cx, &mut parts).await.unwrap();
    let waited = start.elapsed();
    match flow {
        Flow::Respond(resp) => {
            assert_eq!(resp.headers()["content-type"], "application/problem+json");
            let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
            assert_eq!(body["detail"], "fault injected");
            assert_eq!(body["request_id"], "gen-id");
            (Some(resp.status()), waited)
        }
        Flow::Continue => (None, waited),
    }
}

#[tokio::test(start_paused = true)]
async fn abort_fires_when_the_roll_is_under_the_percentage() {
    let p = FaultInjection::with_dice(&config(None, Some((503, 30.0)), false), mid);
    assert_eq!(run(&p, &[]).await.0, Some(StatusCode::SERVICE_UNAVAILABLE));
    let p = FaultInjection::with_dice(&config(None, Some((503, 20.0)), false), mid);
    assert_eq!(run(&p, &[]).await.0, None);
}

#[tokio::test(start_paused = true)]
async fn delay_waits_then_continues() {
    let p = FaultInjection::with_dice(&config(Some((200, 50.0)), None, false), mid);
    let (status, waited) = run(&p, &[]).await;
    assert_eq!(status, None);
    assert_eq!(waited, Duration::from_millis(200));
    let p = FaultInjection::with_dice(&config(Some((200, 10.0)), None, false), mid);
    assert_eq!(run(&p, &[]).await, (None, Duration::ZERO));
}

#[tokio::test(start_paused = true)]
async fn delay_then_abort_both_fire() {
    let p = FaultInjection::with_dice(&config(Some((50, 100.0)), Some((429, 100.0)), false), high);
    let (status, waited) = run(&p, &[]).await;
    assert_eq!(status, Some(StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(waited, Duration::from_millis(50));
}

#[tokio::test(start_paused = true)]
async fn percentage_zero_never_fires_and_hundred_always_fires() {
    let never = FaultInjection::with_dice(&config(Some((100, 0.0)), Some((500, 0.0)), false), low);
    assert_eq!(run(&never, &[]).await, (None, Duration::ZERO));
    let always = FaultInjection::with_dice(&config(None, Some((500, 100.0)), false), high);
    assert_eq!(
        run(&always, &[]).await.0,
        Some(StatusCode::INTERNAL_SERVER_ERROR)
    );
}

#[tokio::test(start_paused = true)]
async fn decimal_percentages_are_honoured() {
    fn tiny() -> f64 {
        0.004
    }
    let p = FaultInjection::with_dice(&config(None, Some((502, 0.5)), false), tiny);
    assert_eq!(run(&p, &[]).await.0, Some(StatusCode::BAD_GATEWAY));
    let p = FaultInjection::with_dice(&config(None, Some((502, 0.3)), false), tiny);
    assert_eq!(run(&p, &[]).await.0, None);
}

#[tokio::test(start_paused = true)]
async fn headers_force_faults_only_with_header_control() {
    let headers = [
        ("x-gatehouse-fault-delay", "300"),
        ("x-gatehouse-fault-abort", "418"),
    ];
    let off = FaultInjection::with_dice(&config(None, Some((500, 0.0)), false), high);
    assert_eq!(run(&off, &headers).await, (None, Duration::ZERO));
    let on = FaultInjection::with_dice(&config(None, None, true), high);
    let (status, waited) = run(&on, &headers).await;
    assert_eq!(status, Some(StatusCode::IM_A_TEAPOT));
    assert_eq!(waited, Duration::from_millis(300));
}

#[tokio::test(start_paused = true)]
async fn header_delay_is_capped() {
    let configured = FaultInjection::with_dice(&config(Some((100, 0.0)), None, true), high);
    let forced = [("x-gatehouse-fault-delay", "999999999")];
    assert_eq!(
        run(&configured, &forced).await,
        (None, Duration::from_millis(100))
    );
    let default_cap = FaultInjection::with_dice(&config(None, None, true), high);
    assert_eq!(run(&default_cap, &forced).await, (None, MAX_HEADER_DELAY));
}

#[tokio::test(start_paused = true)]
async fn header_abort_only_accepts_error_statuses() {
    let p = FaultInjection::with_dice(&config(None, None, true), low);
    for bad in ["200", "302", "600", "99999999999", "abc", ""] {
        let result = run(&p, &[("x-gatehouse-fault-abort", bad)]).await;
        assert_eq!(result, (None, Duration::ZERO), "{bad:?}");
    }
    let result = run(&p, &[("x-gatehouse-fault-abort", "599")]).await;
    assert_eq!(result.0, Some(StatusCode::from_u16(599).unwrap()));
}

#[tokio::test(start_paused = true)]
async fn control_headers_are_not_forwarded() {
    let p = FaultInjection::with_dice(&config(None, None, true), high);
    let mut cx = cx();
    let mut parts = req(
        "GET",
        &[
            ("x-gatehouse-fault-delay", "abc"),
            ("x-gatehouse-fault-abort", "200"),
            ("x-other", "kept"),
        ],
    );
    assert!(matches!(
        p.on_access(&mut cx, &mut parts).await.unwrap(),
        Flow::Continue
    ));
    assert!(!parts.headers.contains_key("x-gatehouse-fault-delay"));
    assert!(!parts.headers.contains_key("x-gatehouse-fault-abort"));
    assert_eq!(parts.headers["x-other"], "kept");
}
