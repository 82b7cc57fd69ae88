//! Gatehouse router: path normalization, the route table and path rewrites.
//!
//! TODO docs
mod error;
mod host;
mod normalize;
mod table;

pub use error::{Error, PathError};
pub use host::host_of;
pub use normalize::normalize_path;
pub use table::{Matched, RouteRequest, RouteTable};
