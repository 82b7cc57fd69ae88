//! Fuzz the HTTP/1 framing scanner: never panics, and cutting the stream into different reads
//! never changes its verdict. The first byte picks the read sizes.
#![no_main]

use gatehouse_core::framing::{Scanner, Status};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&seed, stream)) = data.split_first() else {
        return;
    };
    let expected = Scanner::new().feed(stream);
    let mut scanner = Scanner::new();
    let mut rest = stream;
    let mut size = usize::from(seed % 31) + 1;
    while !rest.is_empty() {
        let (piece, tail) = rest.split_at(size.min(rest.len()));
        let before = scanner.status();
        let after = scanner.feed(piece);
        assert!(
            before == Status::Scanning || before == after,
            "{before:?} -> {after:?}"
        );
        rest = tail;
        size = (size * 7 + usize::from(seed)) % 31 + 1;
    }
    assert_eq!(scanner.status(), expected);
});
