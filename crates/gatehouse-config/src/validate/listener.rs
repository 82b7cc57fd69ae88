//! `server:`, `listeners:` and `admin:`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::Ctx;
use super::scalar::{
    boolean, duration, each, networks, non_empty, size, socket_addr, string, strings, u32_min,
    usize_min,
};
use super::walk::{Obj, list};
use crate::file::Node;
use crate::model::{
    Admin, Certificate, Listener, ListenerLimits, ListenerTls, MethodOverride, RequestBuffers,
    Server, TlsVersion,
};

/// Default admin address.
pub(crate) const DEFAULT_ADMIN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9901);

/// `server:`.
pub(crate) fn server(cx: &mut Ctx, node: &Node, path: &str) -> Option<Server> {
    let keys = [
        "shutdown_timeout",
        "trusted_proxies",
        "via",
        "worker_threads",
        "watch",
        "load_shedding",
        "paths",
        "method_override",
        "request_buffers",
    ];
    let obj = Obj::new(cx, node, path, &keys)?;
    let mut server = Server::default();
    let mut ok = true;
    if let Some(n) = obj.get("shutdown_timeout") {
        ok &= set(
            &mut server.shutdown_timeout,
            duration(cx, n, &obj.at("shutdown_timeout")),
        );
    }
    if let Some(n) = obj.get("trusted_proxies") {
        ok &= set(
            &mut server.trusted_proxies,
            networks(cx, n, &obj.at("trusted_proxies")),
        );
    }
    if let Some(n) = obj.get("via") {
        let p = obj.at("via");
        match non_empty(cx, n, &p) {
            Some(via) if via.bytes().all(|b| b.is_ascii_graphic()) => server.via = via,
            Some(via) => {
                cx.error_hint(
                    n,
                    &p,
                    format!("invalid `via` pseudonym `{via}`"),
                    "use visible ASCII without spaces, e.g. `gatehouse`",
                );
                ok = false;
            }
            None => ok = false,
        }
    }
    if let Some(n) = obj.get("worker_threads") {
        let threads = usize_min(cx, n, &obj.at("worker_threads"), 1);
        ok &= threads.is_some();
        server.worker_threads = threads;
    }
    if let Some(n) = obj.get("watch") {
        ok &= set(&mut server.watch, boolean(cx, n, &obj.at("watch")));
    }
    if let Some(n) = obj.get("load_shedding") {
        let p = obj.at("load_shedding");
        ok &= set(
            &mut server.load_shedding,
            super::breaker::load_shedding(cx, n, &p),
        );
    }
    if let Some(n) = obj.get("paths") {
        let policy = super::paths::paths(cx, n, &obj.at("paths"));
        ok &= set(&mut server.paths, policy);
    }
    if let Some(n) = obj.get("method_override") {
        let choices = [
            ("strip", MethodOverride::Strip),
            ("honor", MethodOverride::Honor),
        ];
        let mode = super::scalar::choice(cx, n, &obj.at("method_override"), &choices);
        ok &= set(&mut server.method_override, mode);
    }
    if let Some(n) = obj.get("request_buffers") {
        let buffers = request_buffers(cx, n, &obj.at("request_buffers"));
        ok &= set(&mut server.request_buffers, buffers);
    }
    ok.then_some(server)
}

/// `server.request_buffers: { total, per_connection }`: byte sizes, each above 0.
fn request_buffers(cx: &mut Ctx, node: &Node, path: &str) -> Option<RequestBuffers> {
    let obj = Obj::new(cx, node, path, &["total", "per_connection"])?;
    let mut buffers = RequestBuffers::default();
    let mut ok = true;
    for (key, slot) in [
        ("total", &mut buffers.total),
        ("per_connection", &mut buffers.per_connection),
    ] {
        if let Some(n) = obj.get(key) {
            let p = obj.at(key);
            match size(cx, n, &p) {
                Some(0) => {
                    cx.error_hint(n, &p, format!("`{key}` must be above 0"), "e.g. `1MiB`");
                    ok = false;
                }
                v => ok &= set(slot, v),
            }
        }
    }
    ok.then_some(buffers)
}

/// Stores `value` in `slot` when present; returns whether it was.
pub(crate) fn set<T>(slot: &mut T, value: Option<T>) -> bool {
    match value {
        Some(v) => {
            *slot = v;
            true
        }
        None => false,
    }
}

/// `listeners:`: a list; names and addresses unique across all files.
pub(crate) fn listeners(cx: &mut Ctx, node: &Node, path: &str) -> Vec<Listener> {
    let Some(items) = list(cx, node, path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if let Some(l) = listener(cx, item, &format!("{path}[{i}]")) {
            out.push(l);
        }
    }
    out
}

fn listener(cx: &mut Ctx, node: &Node, path: &str) -> Option<Listener> {
    let obj = Obj::new(cx, node, path, &["name", "address", "tls", "limits"])?;
    let name_node = obj.req(cx, "name");
    let name = name_node.and_then(|n| non_empty(cx, n, &obj.at("name")));
    if let (Some(name), Some(n)) = (&name, name_node) {
        cx.unique("listener name", name, n, &obj.at("name"));
    }
    let addr_node = obj.req(cx, "address");
    let address = addr_node.and_then(|n| socket_addr(cx, n, &obj.at("address")));
    if let (Some(address), Some(n)) = (&address, addr_node) {
        cx.unique(
            "listener address",
            &address.to_string(),
            n,
            &obj.at("address"),
        );
    }
    let tls = obj.get("tls").map(|n| listener_tls(cx, n, &obj.at("tls")));
    let limits = match obj.get("limits") {
        Some(n) => limits(cx, n, &obj.at("limits")),
        None => Some(ListenerLimits::default()),
    };
    Some(Listener {
        name: name?,
        address: address?,
        tls: tls.map_or(Some(None), |t| t.map(Some))?,
        limits: limits?,
    })
}

fn listener_tls(cx: &mut Ctx, node: &Node, path: &str) -> Option<ListenerTls> {
    let keys = [
        "certificates",
        "min_version",
        "client_certificates",
        "strict_sni",
    ];
    let obj = Obj::new(cx, node, path, &keys)?;
    let certificates = obj.req(cx, "certificates").and_then(|n| {
        let p = obj.at("certificates");
        let certs = each(cx, n, &p, certificate)?;
        if certs.is_empty() {
            cx.error(n, &p, "at least one certificate is required");
            return None;
        }
        Some(certs)
    });
    let min_version = match obj.get("min_version") {
        None => Some(TlsVersion::Tls12),
        Some(n) => {
            let p = obj.at("min_version");
            match string(cx, n, &p).as_deref().map(str::trim) {
                Some("1.2") => Some(TlsVersion::Tls12),
                Some("1.3") => Some(TlsVersion::Tls13),
                Some(other) => {
                    cx.error_hint(
                        n,
                        &p,
                        format!("unsupported TLS version `{other}`"),
                        "use \"1.2\" or \"1.3\"",
                    );
                    None
                }
                None => None,
            }
        }
    };
    let client_certificates = match obj.get("client_certificates") {
        Some(n) => {
            let p = obj.at("client_certificates");
            super::identity::client_certificates(cx, n, &p).map(Some)
        }
        None => Some(None),
    };
    let strict_sni = match obj.get("strict_sni") {
        Some(n) => boolean(cx, n, &obj.at("strict_sni")),
        None => Some(false),
    };
    Some(ListenerTls {
        certificates: certificates?,
        min_version: min_version?,
        client_certificates: client_certificates?,
        strict_sni: strict_sni?,
    })
}

fn certificate(cx: &mut Ctx, node: &Node, path: &str) -> Option<Certificate> {
    let obj = Obj::new(cx, node, path, &["cert", "key", "server_names"])?;
    let cert = obj
        .req(cx, "cert")
        .and_then(|n| non_empty(cx, n, &obj.at("cert")));
    let key = obj
        .req(cx, "key")
        .and_then(|n| non_empty(cx, n, &obj.at("key")));
    let server_names = match obj.get("server_names") {
        Some(n) => strings(cx, n, &obj.at("server_names"))
            .map(|v| v.into_iter().map(|s| s.to_ascii_lowercase()).collect()),
        None => Some(Vec::new()),
    };
    Some(Certificate {
        cert: cx.resolve_path(&cert?),
        key: cx.resolve_path(&key?),
        server_names: server_names?,
    })
}

fn limits(cx: &mut Ctx, node: &Node, path: &str) -> Option<ListenerLimits> {
    let keys = [
        "max_header_bytes",
        "max_headers",
        "max_body_bytes",
        "header_read_timeout",
        "idle_timeout",
        "max_connections",
        "http2_max_concurrent_streams",
        "tls_handshake_timeout",
        "max_connections_per_ip",
        "body_read_timeout",
        "http2_control_frame_budget",
    ];
    let obj = Obj::new(cx, node, path, &keys)?;
    let mut l = ListenerLimits::default();
    let mut ok = true;
    if let Some(n) = obj.get("max_header_bytes") {
        let p = obj.at("max_header_bytes");
        let v = size(cx, n, &p).and_then(|v| usize::try_from(v).ok());
        ok &= set(&mut l.max_header_bytes, v);
    }
    if let Some(n) = obj.get("max_headers") {
        ok &= set(
            &mut l.max_headers,
            usize_min(cx, n, &obj.at("max_headers"), 1),
        );
    }
    if let Some(n) = obj.get("max_body_bytes") {
        ok &= set(
            &mut l.max_body_bytes,
            size(cx, n, &obj.at("max_body_bytes")),
        );
    }
    for (key, slot) in [
        ("header_read_timeout", &mut l.header_read_timeout),
        ("idle_timeout", &mut l.idle_timeout),
        ("tls_handshake_timeout", &mut l.tls_handshake_timeout),
        ("body_read_timeout", &mut l.body_read_timeout),
    ] {
        if let Some(n) = obj.get(key) {
            ok &= set(slot, duration(cx, n, &obj.at(key)));
        }
    }
    if let Some(n) = obj.get("max_connections") {
        ok &= set(
            &mut l.max_connections,
            usize_min(cx, n, &obj.at("max_connections"), 1),
        );
    }
    if let Some(n) = obj.get("http2_max_concurrent_streams") {
        let p = obj.at("http2_max_concurrent_streams");
        ok &= set(&mut l.http2_max_concurrent_streams, u32_min(cx, n, &p, 1));
    }
    if let Some(n) = obj.get("max_connections_per_ip") {
        let p = obj.at("max_connections_per_ip");
        ok &= set(&mut l.max_connections_per_ip, usize_min(cx, n, &p, 0));
    }
    if let Some(n) = obj.get("http2_control_frame_budget") {
        let p = obj.at("http2_control_frame_budget");
        ok &= set(&mut l.http2_control_frame_budget, u32_min(cx, n, &p, 0));
    }
    ok.then_some(l)
}

/// `admin:`; absent → the default (`127.0.0.1:9901`, no token). `Some(None)` when disabled.
pub(crate) fn admin(cx: &mut Ctx, node: Option<&Node>, path: &str) -> Option<Option<Admin>> {
    let Some(node) = node else {
        return Some(Some(Admin {
            address: DEFAULT_ADMIN,
            token: None,
        }));
    };
    let obj = Obj::new(cx, node, path, &["address", "token", "enabled"])?;
    let enabled = match obj.get("enabled") {
        Some(n) => boolean(cx, n, &obj.at("enabled"))?,
        None => true,
    };
    let address = match obj.get("address") {
        Some(n) => socket_addr(cx, n, &obj.at("address")),
        None => Some(DEFAULT_ADMIN),
    };
    let token = match obj.get("token") {
        Some(n) => string(cx, n, &obj.at("token")).map(|t| Some(t).filter(|t| !t.is_empty())),
        None => Some(None),
    };
    let (address, token) = (address?, token?);
    if !enabled {
        return Some(None);
    }
    if token.is_none() && !address.ip().is_loopback() {
        let at = obj.get("address").unwrap_or(node);
        cx.error_hint(
            at,
            &obj.at("token"),
            format!("the admin API on non-loopback address {address} requires a `token`"),
            "set `token: \"${GATEHOUSE_ADMIN_TOKEN}\"`, or bind to 127.0.0.1",
        );
        return None;
    }
    Some(Some(Admin { address, token }))
}
