//! The one hash function of the balancers: FNV-1a folded through the MurmurHash3 64-bit finalizer.
//!
//! Stable across processes and versions (consistent hashing relies on it), fast on short keys and
//! well mixed in every bit. Not meant to resist adversarial keys: a client choosing its key can
//! only choose its own target.

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Hashes `bytes` with `seed` into 64 well-mixed bits.
pub fn hash64(bytes: &[u8], seed: u64) -> u64 {
    let mut h = FNV_OFFSET ^ fmix64(seed);
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    fmix64(h ^ bytes.len() as u64)
}

/// MurmurHash3's 64-bit finalizer: every input bit affects every output bit.
fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}
