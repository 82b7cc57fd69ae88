use super::*;

#[test]
fn caps_hold_and_drop_gives_back() {
    let gateway = Arc::new(Held::default());
    let (c1, c2) = (Arc::new(Held::default()), Arc::new(Held::default()));
    let caps = RequestBuffers {
        total: 100,
        per_connection: 60,
    };
    let mut a = Hold::new(gateway.clone(), c1.clone(), caps);
    assert!(a.try_grow(50));
    assert!(!a.try_grow(11), "over the connection's cap");
    let mut b = Hold::new(gateway.clone(), c1.clone(), caps);
    assert!(b.try_grow(10));
    assert!(!b.try_grow(1));
    let mut c = Hold::new(gateway.clone(), c2.clone(), caps);
    assert!(c.try_grow(40));
    assert!(!c.try_grow(1), "over the gateway's cap");
    // A failed grow took nothing from either counter.
    assert_eq!((gateway.get(), c1.get(), c2.get()), (100, 60, 40));
    drop(a);
    assert_eq!((gateway.get(), c1.get()), (50, 10));
    assert!(c.try_grow(20));
    drop((b, c));
    assert_eq!((gateway.get(), c1.get(), c2.get()), (0, 0, 0));
}
