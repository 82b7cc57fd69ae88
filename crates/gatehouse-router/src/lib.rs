//! Gatehouse router: path normalization, the route table and path rewrites.
//!
//! Contract used by the data plane (gatehouse-core):
//! - [`normalize_path`]: raw request path (no query) → normalized path, or a [`PathError`] (→ 400).
//! - [`RouteTable::build`] once per configuration; [`RouteTable::find`] per request → [`Matched`]
//!   with the route index (into the `routes` slice given to `build`), path parameters and the path to
//!   send upstream (matched path with the route's rewrite applied).
