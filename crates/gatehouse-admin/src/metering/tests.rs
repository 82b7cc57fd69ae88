use gatehouse_store::usage::{UsageRow, parse_hour};

use super::*;

/// 2026-11-22T10:30:00Z.
const NOW: u64 = 1_795_343_400;

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn rows() -> Vec<UsageRow> {
    vec![
        UsageRow {
            hour: parse_hour("2026-11-22T10").unwrap(),
            consumer: "acme".into(),
            route: "orders".into(),
            class: 2,
            requests: 41,
        },
        UsageRow {
            hour: parse_hour("2026-11-22T11").unwrap(),
            consumer: "a,\"b\"".into(),
            route: "r".into(),
            class: 5,
            requests: 1,
        },
    ]
}

#[test]
fn params_are_parsed_with_defaults() {
    let (q, f) = parse_params(&[], NOW).unwrap();
    assert_eq!(f, Format::Json);
    assert_eq!(q.to_hour, parse_hour("2026-11-22T11").unwrap());
    assert_eq!(q.from_hour, parse_hour("2026-11-21T11").unwrap());
    let (q, f) = parse_params(
        &params(&[
            ("from", "2026-11-22T10"),
            ("to", "2026-11-22T12:00:00Z"),
            ("consumer", "acme"),
            ("route", "r"),
            ("format", "csv"),
        ]),
        NOW,
    )
    .unwrap();
    assert_eq!(f, Format::Csv);
    assert_eq!(q.to_hour - q.from_hour, 2);
    assert_eq!(q.consumer.as_deref(), Some("acme"));
    assert_eq!(q.route.as_deref(), Some("r"));
}

#[test]
fn bad_params_are_refused() {
    for bad in [
        params(&[("from", "yesterday")]),
        params(&[("from", "2026-11-22T12"), ("to", "2026-11-22T12")]),
        params(&[("from", "2025-01-01T00"), ("to", "2026-11-22T12")]),
        params(&[("format", "xml")]),
        params(&[("consumr", "acme")]),
        params(&[("route", "a"), ("route", "b")]),
    ] {
        assert!(parse_params(&bad, NOW).is_err(), "{bad:?}");
    }
}

#[test]
fn json_rows() {
    let (q, _) = parse_params(
        &params(&[("from", "2026-11-22T10"), ("to", "2026-11-22T12")]),
        NOW,
    )
    .unwrap();
    let v = render_json(&q, &rows());
    assert_eq!(v["from"], "2026-11-22T10:00:00Z");
    assert_eq!(v["to"], "2026-11-22T12:00:00Z");
    assert_eq!(
        v["rows"][0],
        json!({ "hour": "2026-11-22T10:00:00Z", "consumer": "acme", "route": "orders", "status_class": "2xx", "requests": 41 })
    );
    assert_eq!(v["rows"].as_array().unwrap().len(), 2);
}

#[test]
fn csv_rows_are_escaped() {
    assert_eq!(
        render_csv(&rows()),
        "hour,consumer,route,status_class,requests\r\n\
         2026-11-22T10:00:00Z,acme,orders,2xx,41\r\n\
         2026-11-22T11:00:00Z,\"a,\"\"b\"\"\",r,5xx,1\r\n"
    );
}

#[test]
fn query_strings_are_decoded() {
    assert_eq!(
        decode_query("consumer=a%20b+c&to=2026-11-22T12%3A00%3A00Z&&x").unwrap(),
        params(&[
            ("consumer", "a b c"),
            ("to", "2026-11-22T12:00:00Z"),
            ("x", "")
        ])
    );
    assert_eq!(decode_query("a=%zz"), None);
    assert_eq!(decode_query("a=%4"), None);
    assert_eq!(decode_query("a=%ff"), None);
}
