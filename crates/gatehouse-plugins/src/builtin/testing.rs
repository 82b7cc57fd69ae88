//! Helpers shared by the built-in plugins' unit tests.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use http::request;

use crate::RequestContext;

/// A context for a request from `ip`, with request id `gen-id`.
pub(crate) fn cx_from(ip: IpAddr) -> RequestContext {
    RequestContext::new("gen-id".to_owned(), SocketAddr::new(ip, 40000), ip, "http")
}

/// A context for a request from 192.0.2.1.
pub(crate) fn cx() -> RequestContext {
    cx_from(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)))
}

/// Request parts with `method`, path `/`, and `headers`.
pub(crate) fn req(method: &str, headers: &[(&str, &str)]) -> request::Parts {
    let mut b = http::Request::builder().method(method).uri("/");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

/// Response parts with `status` and `headers`.
pub(crate) fn resp(status: u16, headers: &[(&str, &str)]) -> http::response::Parts {
    let mut b = http::Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

/// All values of `name`, as strings.
pub(crate) fn values(headers: &http::HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}
