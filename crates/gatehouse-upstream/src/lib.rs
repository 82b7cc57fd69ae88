//! Gatehouse upstream clusters.
