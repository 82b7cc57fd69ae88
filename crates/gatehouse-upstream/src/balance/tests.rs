use std::collections::HashMap;
use std::net::IpAddr;

use gatehouse_config::model::{HashKey, Target};
use http::Request;
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;

/// A fixed view: which targets are usable and their in-flight counts.
struct View {
    usable: Vec<bool>,
    in_flight: Vec<u64>,
}

impl View {
    fn all(n: usize) -> Self {
        View {
            usable: vec![true; n],
            in_flight: vec![0; n],
        }
    }

    fn without(n: usize, down: usize) -> Self {
        let mut view = View::all(n);
        view.usable[down] = false;
        view
    }
}

impl TargetSet for View {
    fn len(&self) -> usize {
        self.usable.len()
    }
    fn usable(&self, index: usize) -> bool {
        self.usable[index]
    }
    fn in_flight(&self, index: usize) -> u64 {
        self.in_flight[index]
    }
}

fn targets(weights: &[u32]) -> Vec<Target> {
    weights
        .iter()
        .enumerate()
        .map(|(i, &weight)| Target {
            address: format!("10.0.0.{}:8080", i + 1),
            weight,
        })
        .collect()
}

fn keys() -> impl Iterator<Item = u64> {
    (0..10_000u64).map(|i| hash64(format!("key-{i}").as_bytes(), 0))
}

// === round robin ===

#[test]
fn round_robin_is_smooth_and_exact() {
    let rr = RoundRobin::new(&[5, 1, 1]);
    let view = View::all(3);
    let names = ['a', 'b', 'c'];
    for _ in 0..3 {
        let cycle: String = (0..7).map(|_| names[rr.pick(&view, 0).unwrap()]).collect();
        assert_eq!(cycle, "aabacaa");
    }
}

#[test]
fn round_robin_counts_are_exact_per_cycle() {
    let weights = [3, 2, 1, 4];
    let rr = RoundRobin::new(&weights);
    let view = View::all(4);
    let mut counts = [0u32; 4];
    for _ in 0..10 * 5 {
        counts[rr.pick(&view, 0).unwrap()] += 1;
    }
    assert_eq!(counts, [15, 10, 5, 20]);
}

#[test]
fn round_robin_skips_unusable_targets() {
    let rr = RoundRobin::new(&[5, 1, 1]);
    let view = View::without(3, 1);
    let mut counts = [0u32; 3];
    for _ in 0..6 * 4 {
        counts[rr.pick(&view, 0).unwrap()] += 1;
    }
    assert_eq!(counts, [20, 0, 4]);
    assert_eq!(
        rr.pick(
            &View {
                usable: vec![false; 3],
                in_flight: vec![0; 3]
            },
            0
        ),
        None
    );
}

// === least request ===

#[test]
fn least_request_prefers_the_less_loaded() {
    let lr = LeastRequest::new(&[1, 1]);
    let mut rng = StdRng::seed_from_u64(7);
    let view = View {
        usable: vec![true; 2],
        in_flight: vec![10, 0],
    };
    for _ in 0..100 {
        assert_eq!(lr.pick_with(&view, &mut rng), Some(1));
    }

    // Three targets, the first idle: it wins every draw it is part of (2/3 of them).
    let lr = LeastRequest::new(&[1, 1, 1]);
    let view = View {
        usable: vec![true; 3],
        in_flight: vec![0, 5, 5],
    };
    let idle = (0..3000)
        .filter(|_| lr.pick_with(&view, &mut rng) == Some(0))
        .count();
    assert!(
        (1900..=2100).contains(&idle),
        "idle target picked {idle} times of 3000"
    );
}

#[test]
fn least_request_weighs_load() {
    // load = (in_flight + 1) / weight: 2/1 for the first, 4/4 for the second.
    let lr = LeastRequest::new(&[1, 4]);
    let mut rng = StdRng::seed_from_u64(1);
    let view = View {
        usable: vec![true; 2],
        in_flight: vec![1, 3],
    };
    for _ in 0..100 {
        assert_eq!(lr.pick_with(&view, &mut rng), Some(1));
    }
}

#[test]
fn least_request_uses_the_only_usable_target() {
    let lr = LeastRequest::new(&[1, 1, 1]);
    let mut rng = StdRng::seed_from_u64(3);
    let view = View {
        usable: vec![false, true, false],
        in_flight: vec![0, 100, 0],
    };
    assert_eq!(lr.pick_with(&view, &mut rng), Some(1));
    let none = View {
        usable: vec![false; 3],
        in_flight: vec![0; 3],
    };
    assert_eq!(lr.pick_with(&none, &mut rng), None);
}

// === random ===

#[test]
fn random_respects_weights() {
    let random = WeightedRandom::new(&[1, 2, 7]);
    let mut rng = StdRng::seed_from_u64(42);
    let view = View::all(3);
    let draws = 100_000;
    let mut counts = [0u32; 3];
    for _ in 0..draws {
        counts[random.pick_with(&view, &mut rng).unwrap()] += 1;
    }
    for (count, expected) in counts.iter().zip([0.1, 0.2, 0.7]) {
        let share = f64::from(*count) / f64::from(draws);
        assert!(
            (share - expected).abs() < 0.01,
            "share {share}, expected {expected}"
        );
    }
    let view = View::without(3, 2);
    assert!((0..1000).all(|_| random.pick_with(&view, &mut rng) != Some(2)));
}

// === consistent hashing ===

fn assignments(balancer: &dyn Balancer, view: &View) -> Vec<usize> {
    keys().map(|k| balancer.pick(view, k).unwrap()).collect()
}

/// Checks that making target `down` unusable moves exactly its keys, spread over the others.
fn only_keys_of_the_unusable_target_move(balancer: &dyn Balancer, n: usize, down: usize) {
    let before = assignments(balancer, &View::all(n));
    let after = assignments(balancer, &View::without(n, down));
    let mut moved_to: HashMap<usize, usize> = HashMap::new();
    for (b, a) in before.iter().zip(&after) {
        if *b == down {
            assert_ne!(*a, down);
            *moved_to.entry(*a).or_default() += 1;
        } else {
            assert_eq!(b, a, "a key of a healthy target moved");
        }
    }
    let moved: usize = moved_to.values().sum();
    assert!(
        moved > 10_000 / n / 2 && moved < 10_000 * 2 / n,
        "moved {moved}"
    );
    // Spread: the orphaned keys go to several targets, not all to one neighbour.
    assert!(
        moved_to.len() >= n / 2,
        "orphans went to {} targets",
        moved_to.len()
    );
}

/// Fraction of keys (among those not on the removed target) whose target changes when target
/// `removed` is taken out of the configuration; targets are compared by address.
fn disruption(build: impl Fn(&[Target]) -> Box<dyn Balancer>, n: usize, removed: usize) -> f64 {
    let all = targets(&vec![1; n]);
    let mut rest = all.clone();
    rest.remove(removed);
    let (full, reduced) = (build(&all), build(&rest));
    let before = assignments(full.as_ref(), &View::all(n));
    let after = assignments(reduced.as_ref(), &View::all(n - 1));
    let mut kept_keys = 0;
    let mut moved = 0;
    for (b, a) in before.iter().zip(&after) {
        if *b == removed {
            continue;
        }
        kept_keys += 1;
        if all[*b].address != rest[*a].address {
            moved += 1;
        }
    }
    f64::from(moved) / f64::from(kept_keys)
}

#[test]
fn maglev_table_size_is_a_large_enough_prime() {
    assert_eq!(Maglev::new(&targets(&[1; 10])).table_size(), 65_537);
    let size = Maglev::new(&targets(&[1; 1000])).table_size();
    assert!(size >= 100_000);
    assert!(
        (2..size)
            .take_while(|d| d * d <= size)
            .all(|d| !size.is_multiple_of(d))
    );
}

#[test]
fn maglev_spreads_keys_by_weight() {
    let maglev = Maglev::new(&targets(&[1; 10]));
    let mut counts = [0u32; 10];
    for t in assignments(&maglev, &View::all(10)) {
        counts[t] += 1;
    }
    assert!(
        counts.iter().all(|c| (850..=1150).contains(c)),
        "{counts:?}"
    );

    let maglev = Maglev::new(&targets(&[1, 3]));
    let heavy = assignments(&maglev, &View::all(2))
        .iter()
        .filter(|&&t| t == 1)
        .count();
    assert!((7_200..=7_800).contains(&heavy), "heavy target got {heavy}");
}

#[test]
fn maglev_unusable_target_moves_only_its_keys() {
    let maglev = Maglev::new(&targets(&[1; 10]));
    only_keys_of_the_unusable_target_move(&maglev, 10, 3);
}

/// Maglev trades perfect stability for balance: removing one of 10 targets also moves a few
/// percent of the other keys (0.25% here). The documented tolerance is 2%.
#[test]
fn maglev_removal_moves_few_other_keys() {
    let moved = disruption(|t| Box::new(Maglev::new(t)), 10, 3);
    eprintln!("maglev: {:.2}% of the other keys moved", moved * 100.0);
    assert!(
        moved <= 0.02,
        "{:.2}% of the other keys moved",
        moved * 100.0
    );
}

#[test]
fn ring_spreads_keys_by_weight() {
    let ring = Ring::new(&targets(&[1; 10]));
    assert_eq!(ring.points(), 1600);
    let mut counts = [0u32; 10];
    for t in assignments(&ring, &View::all(10)) {
        counts[t] += 1;
    }
    assert!(
        counts.iter().all(|c| (700..=1300).contains(c)),
        "{counts:?}"
    );

    let ring = Ring::new(&targets(&[1, 3]));
    let heavy = assignments(&ring, &View::all(2))
        .iter()
        .filter(|&&t| t == 1)
        .count();
    assert!((7_000..=8_000).contains(&heavy), "heavy target got {heavy}");
}

#[test]
fn ring_unusable_target_moves_only_its_keys() {
    let ring = Ring::new(&targets(&[1; 10]));
    only_keys_of_the_unusable_target_move(&ring, 10, 3);
}

#[test]
fn ring_removal_moves_only_the_removed_targets_keys() {
    let moved = disruption(|t| Box::new(Ring::new(t)), 10, 3);
    assert_eq!(moved, 0.0);
}

#[test]
fn ring_caps_its_points() {
    let ring = Ring::new(&targets(&[100_000, 1]));
    assert!(ring.points() as u64 <= ring::MAX_POINTS + 2);
    assert!(ring.points() > 1);
}

// === request keys ===

fn parts(uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
    let mut builder = Request::builder().uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap().into_parts().0
}

#[test]
fn request_keys_come_from_the_request_or_the_client_ip() {
    let ip: IpAddr = "192.0.2.7".parse().unwrap();
    let other_ip: IpAddr = "192.0.2.8".parse().unwrap();
    let user = hash64(b"alice", 0);

    let header = HashKey::Header(http::HeaderName::from_static("x-user"));
    assert_eq!(
        request_key(&header, &parts("/", &[("x-user", "alice")]), ip),
        user
    );
    assert_eq!(
        request_key(&header, &parts("/", &[]), ip),
        request_key(&HashKey::ClientIp, &parts("/", &[]), ip)
    );

    let cookie = HashKey::Cookie("user".into());
    let req = parts(
        "/",
        &[("cookie", "a=1; user=alice"), ("cookie", "user=bob")],
    );
    assert_eq!(request_key(&cookie, &req, ip), user);
    let absent = parts("/", &[("cookie", "username=alice")]);
    assert_eq!(
        request_key(&cookie, &absent, ip),
        request_key(&HashKey::ClientIp, &absent, ip)
    );

    let query = HashKey::Query("user".into());
    assert_eq!(
        request_key(&query, &parts("/p?x=1&user=alice", &[]), ip),
        user
    );
    assert_eq!(
        request_key(&query, &parts("/p?user", &[]), ip),
        hash64(b"", 0)
    );
    assert_ne!(
        request_key(&query, &parts("/p?x=1", &[]), ip),
        request_key(&query, &parts("/p?x=1", &[]), other_ip)
    );

    let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
    let empty = parts("/", &[]);
    assert_eq!(
        request_key(&HashKey::ClientIp, &empty, mapped),
        request_key(&HashKey::ClientIp, &empty, ip)
    );
}
