//! Fuzz the `request_headers`/`response_headers` operations (`builtin::headers::apply`) on a
//! header map. The input is lines: `h name: value` (a header of the map), `- name` (remove),
//! `r from: to` (rename), `s name: value` (set), `a name: value` (add); other lines are skipped.
//! Never panics; afterwards a removed name that no later operation writes is absent, a set name
//! that nothing adds to has exactly its last set value, added values end their name's list in
//! order, names no operation touches keep their values, and no name appears that was neither
//! there nor written.
#![no_main]

use gatehouse_config::model::HeaderOps;
use gatehouse_plugins::builtin::headers::apply;
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;

/// The header map and operations the input lists; invalid names and values are skipped.
fn input(data: &[u8]) -> (HeaderMap, HeaderOps) {
    let mut headers = HeaderMap::new();
    let mut ops = HeaderOps::default();
    for line in data.split(|&b| b == b'\n') {
        let Some((&op, rest)) = line.split_first() else {
            continue;
        };
        let (name, value) = match rest.iter().position(|&b| b == b':') {
            Some(colon) => (&rest[..colon], rest[colon + 1..].trim_ascii_start()),
            None => (rest, &b""[..]),
        };
        let Ok(name) = HeaderName::from_bytes(name.trim_ascii()) else {
            continue;
        };
        match op {
            b'-' => ops.remove.push(name),
            b'r' => {
                if let Ok(to) = HeaderName::from_bytes(value.trim_ascii()) {
                    ops.rename.push((name, to));
                }
            }
            b'h' | b's' | b'a' => {
                let Ok(value) = HeaderValue::from_bytes(value) else {
                    continue;
                };
                match op {
                    b'h' => {
                        headers.append(name, value);
                    }
                    b's' => ops.set.push((name, value)),
                    _ => ops.add.push((name, value)),
                }
            }
            _ => {}
        }
    }
    (headers, ops)
}

fn values<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Vec<&'a HeaderValue> {
    headers.get_all(name).iter().collect()
}

fuzz_target!(|data: &[u8]| {
    let (before, ops) = input(data);
    let mut after = before.clone();
    apply(&ops, &mut after);

    let renamed_to = |n: &HeaderName| ops.rename.iter().any(|(f, t)| t == n && f != t);
    let set = |n: &HeaderName| ops.set.iter().any(|(s, _)| s == n);
    let added = |n: &HeaderName| ops.add.iter().any(|(a, _)| a == n);

    for name in &ops.remove {
        if !renamed_to(name) && !set(name) && !added(name) {
            assert!(!after.contains_key(name), "removed {name} is still there");
        }
    }
    for (name, _) in &ops.set {
        if !added(name) {
            let last = ops
                .set
                .iter()
                .rev()
                .find(|(s, _)| s == name)
                .map(|(_, v)| v);
            assert_eq!(values(&after, name), Vec::from_iter(last), "set {name}");
        }
    }
    for (name, _) in &ops.add {
        let wanted: Vec<&HeaderValue> = ops
            .add
            .iter()
            .filter(|(a, _)| a == name)
            .map(|(_, v)| v)
            .collect();
        let got = values(&after, name);
        assert!(got.ends_with(&wanted), "add {name}: {got:?}");
    }
    for name in before.keys() {
        let touched = ops.remove.contains(name)
            || ops.rename.iter().any(|(f, t)| f == name || t == name)
            || set(name)
            || added(name);
        if !touched {
            assert_eq!(
                values(&after, name),
                values(&before, name),
                "{name} changed"
            );
        }
    }
    for name in after.keys() {
        assert!(
            before.contains_key(name) || renamed_to(name) || set(name) || added(name),
            "{name} appeared from nowhere"
        );
    }
});
