use super::{common_names, directory_string, tlv};

/// One `RelativeDistinguishedName` with one attribute (`oid` = the last OID bytes after 55 04).
fn rdn(attr: u8, tag: u8, value: &[u8]) -> Vec<u8> {
    let mut atv = vec![0x06, 0x03, 0x55, 0x04, attr, tag, value.len() as u8];
    atv.extend_from_slice(value);
    let mut seq = vec![0x30, atv.len() as u8];
    seq.extend(atv);
    let mut set = vec![0x31, seq.len() as u8];
    set.extend(seq);
    set
}

#[test]
fn common_names_are_read_from_the_subject() {
    let mut name = rdn(0x06, 0x13, b"US"); // C
    name.extend(rdn(0x03, 0x0c, b"acme-client")); // CN, UTF8String
    name.extend(rdn(0x0a, 0x0c, b"Acme")); // O
    name.extend(rdn(0x03, 0x13, b"second")); // CN, PrintableString
    assert_eq!(common_names(&name), vec!["acme-client", "second"]);
}

#[test]
fn bmp_and_ia5_strings_decode() {
    assert_eq!(
        directory_string(0x1e, &[0, b'h', 0, b'i']).as_deref(),
        Some("hi")
    );
    assert_eq!(directory_string(0x16, b"x.test").as_deref(), Some("x.test"));
    assert_eq!(directory_string(0x14, &[0xe9]), None);
    assert_eq!(directory_string(0x04, b"octets"), None);
}

#[test]
fn malformed_names_yield_what_was_read() {
    let mut name = rdn(0x03, 0x0c, b"ok");
    let good = name.len();
    name.extend(rdn(0x03, 0x0c, b"cut"));
    name.truncate(name.len() - 2);
    assert_eq!(common_names(&name), vec!["ok"]);
    assert_eq!(common_names(&name[..good - 1]), Vec::<String>::new());
    assert_eq!(common_names(&[]), Vec::<String>::new());
    assert_eq!(
        common_names(&[0x31, 0x85, 1, 1, 1, 1, 1]),
        Vec::<String>::new()
    );
}

#[test]
fn long_form_lengths() {
    let mut long = vec![0x04, 0x82, 0x01, 0x00];
    long.extend(std::iter::repeat_n(7u8, 256));
    long.push(0xff);
    let (tag, value, rest) = tlv(&long).unwrap();
    assert_eq!((tag, value.len(), rest), (0x04, 256, &[0xff][..]));
    assert!(tlv(&[0x04, 0x80]).is_none());
    assert!(tlv(&[0x04, 0x81]).is_none());
    assert!(tlv(&[0x04, 0x05, 1]).is_none());
}
