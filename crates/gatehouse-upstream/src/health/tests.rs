use std::time::Duration;

use gatehouse_config::model::{HealthCheck, PassiveHealth, StatusRange};

use super::*;

fn check(healthy_threshold: u32, unhealthy_threshold: u32) -> HealthCheck {
    HealthCheck {
        path: "/healthz".into(),
        host: None,
        interval: Duration::from_secs(5),
        timeout: Duration::from_secs(2),
        healthy_threshold,
        unhealthy_threshold,
        expected_statuses: vec![StatusRange { from: 200, to: 399 }],
    }
}

#[test]
fn active_thresholds_flip_the_state() {
    let health = Health::new();
    let hc = check(2, 3);
    assert!(health.is_usable(), "targets start healthy");

    assert_eq!(health.record_active(false, &hc), None);
    assert_eq!(health.record_active(false, &hc), None);
    // A success resets the failure count.
    assert_eq!(health.record_active(true, &hc), None);
    assert_eq!(health.record_active(false, &hc), None);
    assert_eq!(health.record_active(false, &hc), None);
    assert!(health.is_usable());
    assert_eq!(
        health.record_active(false, &hc),
        Some(Transition::Unhealthy)
    );
    assert!(!health.is_usable());
    assert_eq!(health.record_active(false, &hc), None, "logged once");

    assert_eq!(health.record_active(true, &hc), None);
    assert_eq!(
        health.record_active(false, &hc),
        None,
        "a failure resets the success count"
    );
    assert_eq!(health.record_active(true, &hc), None);
    assert!(!health.is_active_healthy());
    assert_eq!(health.record_active(true, &hc), Some(Transition::Healthy));
    assert!(health.is_usable());
    assert_eq!(health.record_active(true, &hc), None);
}

#[tokio::test(start_paused = true)]
async fn passive_ejection_lasts_the_ejection_time() {
    let health = Health::new();
    let passive = PassiveHealth {
        consecutive_failures: 3,
        ejection_time: Duration::from_secs(30),
    };
    assert!(!health.record_passive(false, &passive));
    assert!(!health.record_passive(false, &passive));
    // A success resets the count.
    assert!(!health.record_passive(true, &passive));
    assert!(!health.record_passive(false, &passive));
    assert!(!health.record_passive(false, &passive));
    assert!(health.is_usable());
    assert!(
        health.record_passive(false, &passive),
        "third failure in a row ejects"
    );
    assert!(health.is_ejected());
    assert!(!health.is_usable());
    assert!(
        health.is_active_healthy(),
        "ejection is not the active state"
    );

    tokio::time::advance(Duration::from_secs(29)).await;
    assert!(health.is_ejected());
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(!health.is_ejected());
    assert!(health.is_usable());

    // Back from ejection, the full count is needed again.
    assert!(!health.record_passive(false, &passive));
    assert!(!health.record_passive(false, &passive));
    assert!(health.record_passive(false, &passive));
    assert!(health.is_ejected());
}
