use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use gatehouse_config::model::{
    Balance, HashAlgorithm, HashKey, HealthCheck, PassiveHealth, Pool, StatusRange, Target,
    Upstream, UpstreamProtocol, UpstreamTimeouts, UpstreamTls,
};
use http::Request;

use super::*;

fn upstream(addresses: &[&str], balance: Balance) -> Upstream {
    Upstream {
        name: "backend".into(),
        targets: addresses
            .iter()
            .map(|a| Target {
                address: (*a).into(),
                weight: 1,
            })
            .collect(),
        balance,
        health_check: None,
        passive_health: Some(PassiveHealth::default()),
        timeouts: UpstreamTimeouts::default(),
        protocol: UpstreamProtocol::Http1,
        tls: None,
        pool: Pool::default(),
        resilience: Default::default(),
    }
}

fn head(uri: &str) -> http::request::Parts {
    Request::builder().uri(uri).body(()).unwrap().into_parts().0
}

fn ip() -> IpAddr {
    IpAddr::from([192, 0, 2, 1])
}

fn mark_unhealthy(cluster: &Cluster, index: usize) {
    let hc = HealthCheck {
        path: "/".into(),
        host: None,
        interval: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
        healthy_threshold: 1,
        unhealthy_threshold: 1,
        expected_statuses: vec![StatusRange { from: 200, to: 299 }],
    };
    cluster.targets[index].health.record_active(false, &hc);
}

#[test]
fn selects_round_robin_and_counts_in_flight() {
    let cluster = Cluster::new(&upstream(
        &["10.0.0.1:80", "10.0.0.2:80"],
        Balance::RoundRobin,
    ))
    .unwrap();
    let a = cluster.select(&head("/"), ip()).unwrap();
    let b = cluster.select(&head("/"), ip()).unwrap();
    assert_eq!((a.address(), b.address()), ("10.0.0.1:80", "10.0.0.2:80"));
    let c = cluster.select(&head("/"), ip()).unwrap();
    let in_flight: Vec<u64> = cluster.status().iter().map(|s| s.in_flight).collect();
    assert_eq!(in_flight, [2, 1]);
    drop((a, b, c));
    assert!(cluster.status().iter().all(|s| s.in_flight == 0));
}

#[test]
fn no_usable_target_selects_none() {
    let cluster = Cluster::new(&upstream(
        &["10.0.0.1:80", "10.0.0.2:80"],
        Balance::LeastRequest,
    ))
    .unwrap();
    mark_unhealthy(&cluster, 0);
    for _ in 0..10 {
        assert_eq!(cluster.select(&head("/"), ip()).unwrap().index(), 1);
    }
    mark_unhealthy(&cluster, 1);
    assert!(cluster.select(&head("/"), ip()).is_none());
    let status = cluster.status();
    assert!(status.iter().all(|s| !s.healthy && !s.ejected));
}

#[test]
fn select_excluding_avoids_the_given_target() {
    let cluster = Cluster::new(&upstream(
        &["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"],
        Balance::ConsistentHash {
            key: HashKey::Query("user".into()),
            algorithm: HashAlgorithm::Maglev,
        },
    ))
    .unwrap();
    let req = head("/?user=alice");
    let first = cluster.select(&req, ip()).unwrap();
    // Same key, same target; another client address does not matter when the key is present.
    let again = cluster
        .select(&req, IpAddr::from([198, 51, 100, 9]))
        .unwrap();
    assert_eq!(first.index(), again.index());
    let retry = cluster.select_excluding(&req, ip(), &first).unwrap();
    assert_ne!(retry.index(), first.index());

    let single = Cluster::new(&upstream(&["10.0.0.1:80"], Balance::Random)).unwrap();
    let only = single.select(&req, ip()).unwrap();
    assert!(single.select_excluding(&req, ip(), &only).is_none());
}

#[test]
fn build_errors_are_reported() {
    let bad_target = upstream(&["not a host:port"], Balance::RoundRobin);
    let err = Cluster::new(&bad_target).unwrap_err();
    assert!(matches!(err, Error::Build { .. }), "{err}");

    let mut missing_ca = upstream(&["10.0.0.1:443"], Balance::RoundRobin);
    missing_ca.tls = Some(UpstreamTls {
        server_name: None,
        ca: Some(PathBuf::from("/nonexistent/ca.pem")),
        insecure_skip_verify: false,
    });
    let err = Cluster::new(&missing_ca).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");

    let mut bad_name = upstream(&["10.0.0.1:443"], Balance::RoundRobin);
    bad_name.tls = Some(UpstreamTls {
        server_name: Some("bad name!".into()),
        ca: None,
        insecure_skip_verify: false,
    });
    assert!(Cluster::new(&bad_name).is_err());

    let mut checked = upstream(&["10.0.0.1:80"], Balance::RoundRobin);
    checked.health_check = Some(HealthCheck {
        path: "/healthz".into(),
        host: None,
        interval: Duration::from_secs(5),
        timeout: Duration::from_secs(2),
        healthy_threshold: 2,
        unhealthy_threshold: 3,
        expected_statuses: Vec::new(),
    });
    let err = Cluster::new(&checked).unwrap_err();
    assert!(err.to_string().contains("tokio runtime"), "{err}");
}

#[tokio::test]
async fn dropping_the_cluster_stops_its_checker() {
    let mut cfg = upstream(&["127.0.0.1:9"], Balance::RoundRobin);
    cfg.health_check = Some(HealthCheck {
        path: "/healthz".into(),
        host: None,
        interval: Duration::from_millis(10),
        timeout: Duration::from_millis(100),
        healthy_threshold: 1,
        unhealthy_threshold: 1,
        expected_statuses: Vec::new(),
    });
    let cluster = Cluster::new(&cfg).unwrap();
    let checker = cluster.checker.clone().unwrap();
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert!(!checker.is_finished());
    drop(cluster);
    for _ in 0..100 {
        if checker.is_finished() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the health checker outlived its cluster");
}
