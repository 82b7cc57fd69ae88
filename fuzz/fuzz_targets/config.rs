//! Fuzz the config loader: arbitrary UTF-8 must be accepted or refused with diagnostics, never
//! panic, and a refusal must carry at least one diagnostic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(err) = gatehouse_config::load_str(text, Path::new("fuzz.yaml")) {
        assert!(!err.diagnostics.is_empty());
        // Rendering must not panic either.
        let _ = err.to_string();
    }
});
