//! Unit tests of the upstream call's request body buffering.
