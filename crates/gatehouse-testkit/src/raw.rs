//! Reading raw HTTP/1.1 responses (as returned by [`raw_exchange`](crate::gateway::raw_exchange)),
//! and GETs with curl `--path-as-is`, an independent client that does not normalize the path.

use std::process::Command;

use crate::gateway::within;

/// Status code of the first response in a raw exchange (0 when nothing came back).
pub fn status_of(raw: &str) -> u16 {
    raw.strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The body of the first response (everything after the head).
pub fn body_of(raw: &str) -> &str {
    raw.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// GET `url` with curl `--path-as-is` (bounded by [`within`], curl itself by `--max-time 10`);
/// returns (status, body).
///
/// Panics if curl cannot be run or its output has no status line.
pub async fn curl_as_is(url: String) -> (u16, String) {
    let out = within(
        "curl",
        tokio::task::spawn_blocking(move || {
            Command::new("curl")
                .args([
                    "-sS",
                    "--max-time",
                    "10",
                    "--path-as-is",
                    "-w",
                    "\n%{http_code}",
                    &url,
                ])
                .output()
                .expect("run curl")
        }),
    )
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').expect("curl output");
    (code.parse().expect("status"), body.to_owned())
}
