//! `cors`: answers preflights and adds CORS headers to responses for allowed origins.

use async_trait::async_trait;
use bytes::Bytes;
use gatehouse_config::model::{CorsConfig, OriginMatch};
use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, request, response};
use regex::Regex;

use crate::problem::problem_response;
use crate::{Error, Flow, Phases, Plugin, RequestContext, Result};

/// `Vary` of a preflight answer.
const PREFLIGHT_VARY: &str =
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

/// One allowed origin, ready to match.
#[derive(Debug)]
enum Allowed {
    Any,
    /// Compared ASCII case-insensitively.
    Exact(String),
    /// Anchored at both ends.
    Pattern(Regex),
}

/// The `cors` plugin.
///
/// - `on_access`: an `OPTIONS` request with `Origin` and `Access-Control-Request-Method` is a
///   preflight and is always answered here: `204` with the CORS headers when both the origin and
///   the method are allowed, else `403` `problem+json` *without* any CORS header (the browser then
///   blocks the actual request). Other requests pass; the plugin notes their origin.
/// - `on_response`: the gateway owns `Access-Control-Allow-Origin`, `-Allow-Credentials` and
///   `-Expose-Headers`: upstream values are removed, then, for an allowed `Origin`, set from the
///   settings. `Vary: Origin` is appended (once) unless the answer is `Access-Control-Allow-Origin: *`.
///
/// `*` is sent only when `allow_origins` contains `*` and `allow_credentials` is false; otherwise
/// the request's origin is reflected, so `*` never goes with credentials.
#[derive(Debug)]
pub struct Cors {
    origins: Vec<Allowed>,
    /// Answer `*`: `allow_origins` has `*` and credentials are off.
    wildcard: bool,
    methods: Vec<Method>,
    allow_methods: HeaderValue,
    /// `None`: reflect `Access-Control-Request-Headers`.
    allow_headers: Option<HeaderValue>,
    expose_headers: Option<HeaderValue>,
    credentials: bool,
    max_age: Option<HeaderValue>,
}

/// What `on_access` saw, for `on_response`.
#[derive(Debug, Clone)]
struct Seen {
    /// The request's origin, when allowed.
    allowed_origin: Option<HeaderValue>,
    /// The request was a preflight, answered in `on_access`.
    preflight: bool,
}

fn build_error(message: String) -> Error {
    Error::Build {
        plugin: "cors",
        message,
    }
}

/// `items` joined with `", "` as one header value; `None` when empty.
fn join<T: AsRef<str>>(items: &[T]) -> Result<Option<HeaderValue>> {
    if items.is_empty() {
        return Ok(None);
    }
    let joined = items
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(", ");
    HeaderValue::from_str(&joined)
        .map(Some)
        .map_err(|_| build_error(format!("not a valid header value: {joined:?}")))
}

/// Whether a `Vary` header already covers `Origin`.
fn varies_on_origin(headers: &HeaderMap) -> bool {
    headers
        .get_all(VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.eq_ignore_ascii_case("origin"))
}

/// The single value of `name`, if there is exactly one.
fn single<'a>(headers: &'a HeaderMap, name: &http::HeaderName) -> Option<&'a HeaderValue> {
    let mut all = headers.get_all(name).iter();
    match (all.next(), all.next()) {
        (Some(v), None) => Some(v),
        _ => None,
    }
}

impl Cors {
    /// Builds the plugin; fails if a pattern cannot be anchored or a list is not a header value.
    pub fn new(config: &CorsConfig) -> Result<Self> {
        let origins = config
            .allow_origins
            .iter()
            .map(|o| match o {
                OriginMatch::Any => Ok(Allowed::Any),
                OriginMatch::Exact(s) => Ok(Allowed::Exact(s.clone())),
                OriginMatch::Pattern(re) => Regex::new(&format!("^(?:{})$", re.as_str()))
                    .map(Allowed::Pattern)
                    .map_err(|e| build_error(format!("origin pattern {:?}: {e}", re.as_str()))),
            })
            .collect::<Result<Vec<_>>>()?;
        let wildcard =
            !config.allow_credentials && origins.iter().any(|o| matches!(o, Allowed::Any));
        let methods: Vec<&str> = config.allow_methods.iter().map(Method::as_str).collect();
        Ok(Cors {
            origins,
            wildcard,
            methods: config.allow_methods.clone(),
            allow_methods: join(&methods)?.unwrap_or(HeaderValue::from_static("")),
            allow_headers: join(&config.allow_headers)?,
            expose_headers: join(&config.expose_headers)?,
            credentials: config.allow_credentials,
            max_age: config.max_age.map(|d| HeaderValue::from(d.as_secs())),
        })
    }

    /// Whether `origin` (the request's `Origin` value) is allowed.
    pub fn origin_allowed(&self, origin: &HeaderValue) -> bool {
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        self.origins.iter().any(|o| match o {
            Allowed::Any => true,
            Allowed::Exact(s) => s.eq_ignore_ascii_case(origin),
            Allowed::Pattern(re) => re.is_match(origin),
        })
    }

    /// The `Access-Control-Allow-Origin` value for an allowed `origin`.
    fn allow_origin(&self, origin: &HeaderValue) -> HeaderValue {
        if self.wildcard {
            HeaderValue::from_static("*")
        } else {
            origin.clone()
        }
    }

    /// Answers a preflight.
    fn preflight(
        &self,
        cx: &RequestContext,
        req: &request::Parts,
        origin: &HeaderValue,
    ) -> Response<Bytes> {
        let method_ok = single(&req.headers, &ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
            .is_some_and(|m| self.methods.contains(&m));
        if !self.origin_allowed(origin) || !method_ok {
            let detail = if method_ok {
                "CORS preflight refused: origin not allowed."
            } else {
                "CORS preflight refused: origin or method not allowed."
            };
            return problem_response(StatusCode::FORBIDDEN, detail, &cx.request_id);
        }
        let mut resp = Response::new(Bytes::new());
        *resp.status_mut() = StatusCode::NO_CONTENT;
        let h = resp.headers_mut();
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, self.allow_origin(origin));
        h.insert(ACCESS_CONTROL_ALLOW_METHODS, self.allow_methods.clone());
        match &self.allow_headers {
            Some(v) => {
                h.insert(ACCESS_CONTROL_ALLOW_HEADERS, v.clone());
            }
            None => {
                for v in req.headers.get_all(ACCESS_CONTROL_REQUEST_HEADERS) {
                    h.append(ACCESS_CONTROL_ALLOW_HEADERS, v.clone());
                }
            }
        }
        if let Some(v) = &self.max_age {
            h.insert(ACCESS_CONTROL_MAX_AGE, v.clone());
        }
        if self.credentials {
            h.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        h.insert(VARY, HeaderValue::from_static(PREFLIGHT_VARY));
        resp
    }
}

#[async_trait]
impl Plugin for Cors {
    fn name(&self) -> &'static str {
        "cors"
    }

    fn priority(&self) -> i32 {
        super::priority::CORS
    }

    fn phases(&self) -> Phases {
        Phases::ACCESS.with(Phases::RESPONSE)
    }

    async fn on_access(&self, cx: &mut RequestContext, req: &mut request::Parts) -> Result<Flow> {
        let origin = single(&req.headers, &ORIGIN);
        let is_preflight = req.method == Method::OPTIONS
            && req.headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD);
        if let Some(origin) = origin.filter(|_| is_preflight) {
            cx.extensions.insert(Seen {
                allowed_origin: None,
                preflight: true,
            });
            return Ok(Flow::Respond(self.preflight(cx, req, origin)));
        }
        let allowed_origin = origin.filter(|o| self.origin_allowed(o)).cloned();
        cx.extensions.insert(Seen {
            allowed_origin,
            preflight: false,
        });
        Ok(Flow::Continue)
    }

    async fn on_response(&self, cx: &mut RequestContext, resp: &mut response::Parts) -> Result<()> {
        let seen = cx.extensions.get::<Seen>();
        if seen.is_some_and(|s| s.preflight) {
            return Ok(());
        }
        let h = &mut resp.headers;
        h.remove(ACCESS_CONTROL_ALLOW_ORIGIN);
        h.remove(ACCESS_CONTROL_ALLOW_CREDENTIALS);
        h.remove(ACCESS_CONTROL_EXPOSE_HEADERS);
        let mut star = false;
        if let Some(origin) = seen.and_then(|s| s.allowed_origin.as_ref()) {
            let value = self.allow_origin(origin);
            star = value == "*";
            h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, value);
            if self.credentials && !star {
                h.insert(
                    ACCESS_CONTROL_ALLOW_CREDENTIALS,
                    HeaderValue::from_static("true"),
                );
            }
            if let Some(v) = &self.expose_headers {
                h.insert(ACCESS_CONTROL_EXPOSE_HEADERS, v.clone());
            }
        }
        if !star && !varies_on_origin(h) {
            h.append(VARY, HeaderValue::from_static("Origin"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
