//! A stored response and its freshness bookkeeping, with the byte format the Redis backend uses.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

/// One stored response (one variant of one key).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Status.
    pub status: StatusCode,
    /// Response headers as received (hop-by-hop fields already removed; no `Age`).
    pub headers: HeaderMap,
    /// The complete body.
    pub body: Bytes,
    /// When the response (or its last revalidation) was received.
    pub stored_at: SystemTime,
    /// Age the response already had when received (its `Age` field).
    pub initial_age: Duration,
    /// Freshness lifetime (0 for `no-cache`: revalidate before every use).
    pub fresh_for: Duration,
    /// How long past freshness it may be served while one request refreshes it.
    pub stale_while_revalidate: Duration,
    /// How long past freshness it may be served when the upstream fails.
    pub stale_if_error: Duration,
}

impl Entry {
    /// Current age (RFC 9111 §4.2.3, with the response time as the request time).
    pub fn age(&self, now: SystemTime) -> Duration {
        self.initial_age + now.duration_since(self.stored_at).unwrap_or_default()
    }

    /// Whether it may be served without asking the upstream.
    pub fn is_fresh(&self, now: SystemTime) -> bool {
        self.age(now) < self.fresh_for
    }

    /// How long it has been stale (0 while fresh).
    pub fn staleness(&self, now: SystemTime) -> Duration {
        self.age(now).saturating_sub(self.fresh_for)
    }

    /// Whether it carries a validator (`ETag` or `Last-Modified`) to revalidate with.
    pub fn has_validator(&self) -> bool {
        self.headers.contains_key(http::header::ETAG)
            || self.headers.contains_key(http::header::LAST_MODIFIED)
    }

    /// Bytes it takes (weigher of the memory backend).
    pub fn weight(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 32)
            .sum();
        self.body.len() + headers + 128
    }

    /// The byte format stored in Redis.
    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(self.weight());
        b.put_slice(MAGIC);
        b.put_u16(self.status.as_u16());
        let stored = self
            .stored_at
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        for d in [
            stored,
            self.initial_age,
            self.fresh_for,
            self.stale_while_revalidate,
            self.stale_if_error,
        ] {
            b.put_u64(d.as_millis().try_into().unwrap_or(u64::MAX));
        }
        b.put_u32(self.headers.len() as u32);
        for (name, value) in &self.headers {
            b.put_u16(name.as_str().len() as u16);
            b.put_slice(name.as_str().as_bytes());
            b.put_u32(value.len() as u32);
            b.put_slice(value.as_bytes());
        }
        b.put_slice(&self.body);
        b.freeze()
    }

    /// Reads what [`Entry::encode`] wrote; `None` for anything else (a foreign or corrupt value is
    /// a miss, never an error).
    pub fn decode(mut b: Bytes) -> Option<Entry> {
        if b.len() < MAGIC.len() + 2 + 40 + 4 || &b[..MAGIC.len()] != MAGIC {
            return None;
        }
        b.advance(MAGIC.len());
        let status = StatusCode::from_u16(b.get_u16()).ok()?;
        let mut d = [Duration::ZERO; 5];
        for slot in &mut d {
            *slot = Duration::from_millis(b.get_u64());
        }
        let count = b.get_u32() as usize;
        let mut headers = HeaderMap::with_capacity(count.min(256));
        for _ in 0..count {
            if b.remaining() < 2 {
                return None;
            }
            let len = b.get_u16() as usize;
            if b.remaining() < len + 4 {
                return None;
            }
            let name = HeaderName::from_bytes(&b.split_to(len)).ok()?;
            let len = b.get_u32() as usize;
            if b.remaining() < len {
                return None;
            }
            let value = HeaderValue::from_maybe_shared(b.split_to(len)).ok()?;
            headers.append(name, value);
        }
        Some(Entry {
            status,
            headers,
            body: b,
            stored_at: UNIX_EPOCH.checked_add(d[0])?,
            initial_age: d[1],
            fresh_for: d[2],
            stale_while_revalidate: d[3],
            stale_if_error: d[4],
        })
    }
}

const MAGIC: &[u8] = b"GHC1";

#[cfg(test)]
mod tests;
