//! No cache poisoning through unkeyed headers, no responses leaking across consumers, and request
//! coalescing (1,000 concurrent misses → 1 origin request).

use std::sync::Arc;

use gatehouse_testkit::gateway::{TestGateway, http_client, send, within};
use gatehouse_testkit::keys::sha256_hex_via_cli;
use gatehouse_testkit::yaml::PUBLIC_LISTENER_NO_ADMIN;
use http_body_util::Full;

use super::{call, gateway, get, n, origin, settle, x_cache};

#[tokio::test]
async fn unkeyed_override_headers_cannot_poison_the_cache() {
    let o = origin::spawn().await;
    let gw = gateway(&o, "{ key: { headers: [x-tenant] } }", "").await;
    let path = "/page?cc=max-age%3D60";
    let attack = [
        ("x-forwarded-host", "evil.example"),
        ("x-original-url", "/admin"),
        ("x-rewrite-url", "/admin"),
        ("x-http-method-override", "DELETE"),
        ("x-forwarded-scheme", "nothttps"),
        ("forwarded", "host=evil.example"),
    ];
    let poisoned = call(&gw, "GET", path, &attack).await;
    assert_eq!(x_cache(&poisoned), "MISS");
    settle().await;
    let victim = get(&gw, path).await;
    assert_eq!(x_cache(&victim), "HIT");
    let seen = String::from_utf8_lossy(&victim.body).to_string();
    for needle in [
        "evil.example",
        "x-original-url",
        "x-rewrite-url",
        "x-http-method-override",
        "nothttps",
    ] {
        assert!(
            !seen.contains(needle),
            "`{needle}` reached the stored response: {seen}"
        );
    }
    // A keyed header reaches the origin and selects its own entry.
    let a = call(&gw, "GET", path, &[("x-tenant", "a")]).await;
    settle().await;
    let b = call(&gw, "GET", path, &[("x-tenant", "b")]).await;
    settle().await;
    assert_eq!((x_cache(&a), x_cache(&b)), ("MISS", "MISS"));
    assert_eq!(a.json()["headers"]["x-tenant"], "a");
    let a2 = call(&gw, "GET", path, &[("x-tenant", "a")]).await;
    assert_eq!((x_cache(&a2), n(&a2)), ("HIT", n(&a)));
}

async fn with_consumers(o: &origin::Origin) -> TestGateway {
    let yaml = format!(
        r#"{PUBLIC_LISTENER_NO_ADMIN}upstreams:
  origin:
    targets: ["{}"]
consumers:
  - {{ id: alice, api_keys: [{{ sha256: "{}" }}] }}
  - {{ id: bob, api_keys: [{{ sha256: "{}" }}] }}
routes:
  - name: mine
    match: {{ path: {{ prefix: /me }} }}
    upstream: origin
    plugins:
      - key_auth: {{}}
      - cache: {{ key: {{ consumer: true }} }}
  - name: shared
    match: {{ path: {{ prefix: /shared }} }}
    upstream: origin
    plugins:
      - key_auth: {{}}
      - cache: {{}}
"#,
        o.addr,
        sha256_hex_via_cli("alice-key"),
        sha256_hex_via_cli("bob-key"),
    );
    TestGateway::start(&yaml).await
}

#[tokio::test]
async fn one_consumers_response_never_reaches_another() {
    let o = origin::spawn().await;
    let gw = with_consumers(&o).await;
    let alice = [("x-api-key", "alice-key")];
    let bob = [("x-api-key", "bob-key")];
    let a = call(&gw, "GET", "/me?cc=max-age%3D60", &alice).await;
    settle().await;
    let b = call(&gw, "GET", "/me?cc=max-age%3D60", &bob).await;
    settle().await;
    assert_eq!((a.status.as_u16(), x_cache(&a)), (200, "MISS"));
    assert_eq!(x_cache(&b), "MISS", "bob gets his own entry");
    let body = |r: &gatehouse_testkit::gateway::Reply| String::from_utf8_lossy(&r.body).to_string();
    assert!(body(&a).contains("alice") && !body(&a).contains("bob"));
    assert!(body(&b).contains("bob") && !body(&b).contains("alice"));
    let a2 = call(&gw, "GET", "/me?cc=max-age%3D60", &alice).await;
    assert_eq!((x_cache(&a2), n(&a2)), ("HIT", n(&a)));
    // Authentication still runs before the cache: no key, no cached answer.
    let anonymous = get(&gw, "/me?cc=max-age%3D60").await;
    assert_eq!(anonymous.status.as_u16(), 401);
    // Without the consumer in the key, authenticated requests bypass the cache.
    let before = o.hits();
    for who in [&alice, &bob, &alice] {
        let r = call(&gw, "GET", "/shared?cc=public,%20max-age%3D60", who).await;
        assert_eq!(x_cache(&r), "BYPASS");
    }
    assert_eq!(o.hits(), before + 3);
}

#[tokio::test]
async fn a_thousand_concurrent_misses_make_one_origin_request() {
    let o = origin::spawn().await;
    let gw = gateway(&o, "{}", "").await;
    let url = Arc::new(gw.url("/slow?delay=500&cc=max-age%3D60"));
    let client = http_client();
    let mut tasks = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let req = http::Request::get(url.as_str())
                .body(Full::new(bytes::Bytes::new()))
                .expect("request");
            send(&client, req)
                .await
                .map(|r| (r.status.as_u16(), r.body))
        }));
    }
    let mut bodies = std::collections::HashSet::new();
    for task in tasks {
        let (status, body) = within("coalesced request", task)
            .await
            .expect("task")
            .expect("response");
        assert_eq!(status, 200);
        bodies.insert(body);
    }
    assert_eq!(o.hits(), 1, "1,000 concurrent misses, one origin request");
    assert_eq!(bodies.len(), 1, "everyone got the same response");
}
