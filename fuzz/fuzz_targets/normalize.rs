//! Fuzz `normalize_path`: never panics; its output is absolute, a fixed point, and free of `//`
//! and dot-segments.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(once) = gatehouse_router::normalize_path(raw) else {
        return;
    };
    assert!(once.starts_with('/'));
    for bad in ["//", "/./", "/../"] {
        assert!(!once.contains(bad), "{once:?} contains {bad:?}");
    }
    assert!(!once.ends_with("/.") && !once.ends_with("/.."));
    let twice = gatehouse_router::normalize_path(&once).expect("normalized output is valid");
    assert_eq!(*twice, *once, "not a fixed point");
    assert!(matches!(twice, std::borrow::Cow::Borrowed(_)));
});
