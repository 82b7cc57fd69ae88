use std::collections::BTreeMap;
use std::sync::Arc;

use gatehouse_config::model::{CertificateField, CertificateIdentity, Consumer, MtlsConfig};

use super::{CHALLENGE, Mtls};
use crate::auth::{AuthOutcome, Authenticator};
use crate::builtin::testing::{cx, req};
use crate::{ClientCert, ConsumerRegistry};

fn consumer(id: &str, certificates: Vec<CertificateIdentity>) -> Consumer {
    Consumer {
        id: id.to_owned(),
        tenant: Some(format!("{id}-corp")),
        plan: Some("pro".to_owned()),
        groups: Vec::new(),
        roles: vec!["orders.read".to_owned()],
        api_key_hashes: Vec::new(),
        certificates,
        jwt_subjects: Vec::new(),
        metadata: BTreeMap::new(),
    }
}

fn registry() -> Arc<ConsumerRegistry> {
    Arc::new(ConsumerRegistry::new(&[
        consumer(
            "acme",
            vec![CertificateIdentity::UriSan(
                "spiffe://acme.test/ns/a/sa/b".to_owned(),
            )],
        ),
        consumer(
            "beta",
            vec![CertificateIdentity::DnsSan("client.beta.test".to_owned())],
        ),
        consumer(
            "gamma",
            vec![CertificateIdentity::CommonName("gamma-client".to_owned())],
        ),
    ]))
}

fn mtls(match_on: Vec<CertificateField>, require_consumer: bool) -> Mtls {
    Mtls::new(
        &MtlsConfig {
            match_on,
            require_consumer,
        },
        registry(),
    )
}

fn cert(verified: bool, cn: &[&str], dns: &[&str], uri: &[&str]) -> ClientCert {
    let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
    ClientCert {
        verified,
        common_names: own(cn),
        dns_sans: own(dns),
        uri_sans: own(uri),
        der: Vec::new(),
    }
}

fn identity(outcome: AuthOutcome) -> crate::Identity {
    match outcome {
        AuthOutcome::Authenticated(i) => i,
        other => panic!("expected an identity, got {other:?}"),
    }
}

fn rejected(outcome: AuthOutcome) -> &'static str {
    match outcome {
        AuthOutcome::Rejected(f) => {
            assert_eq!(f.status, http::StatusCode::UNAUTHORIZED);
            assert_eq!(f.challenge.unwrap(), CHALLENGE);
            f.reason
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn no_certificate_is_no_credentials() {
    assert!(matches!(
        mtls(Vec::new(), true).decide(None),
        AuthOutcome::NoCredentials
    ));
}

#[test]
fn unverified_certificate_is_rejected_even_when_it_maps() {
    let c = cert(false, &[], &[], &["spiffe://acme.test/ns/a/sa/b"]);
    assert_eq!(
        rejected(mtls(Vec::new(), false).decide(Some(&c))),
        "client certificate not verified"
    );
}

#[test]
fn default_order_prefers_uri_then_dns_then_cn() {
    let m = mtls(Vec::new(), false);
    let all = cert(
        true,
        &["gamma-client"],
        &["client.beta.test"],
        &["spiffe://acme.test/ns/a/sa/b"],
    );
    let i = identity(m.decide(Some(&all)));
    assert_eq!(i.method, "mtls");
    assert_eq!(i.consumer_id.as_deref(), Some("acme"));
    assert_eq!(i.tenant.as_deref(), Some("acme-corp"));
    assert_eq!(i.roles, vec!["orders.read".to_owned()]);
    assert_eq!(
        i.client_cert.as_deref(),
        Some("spiffe://acme.test/ns/a/sa/b")
    );

    let dns_cn = cert(true, &["gamma-client"], &["client.beta.test"], &[]);
    let i = identity(m.decide(Some(&dns_cn)));
    assert_eq!(i.consumer_id.as_deref(), Some("beta"));
    assert_eq!(i.client_cert.as_deref(), Some("client.beta.test"));

    let cn = cert(true, &["gamma-client"], &[], &["spiffe://other.test/x"]);
    let i = identity(m.decide(Some(&cn)));
    assert_eq!(i.consumer_id.as_deref(), Some("gamma"));
    assert_eq!(i.client_cert.as_deref(), Some("gamma-client"));
}

#[test]
fn match_on_restricts_and_orders_fields() {
    let all = cert(
        true,
        &["gamma-client"],
        &["client.beta.test"],
        &["spiffe://acme.test/ns/a/sa/b"],
    );
    let m = mtls(
        vec![CertificateField::CommonName, CertificateField::UriSan],
        false,
    );
    assert_eq!(
        identity(m.decide(Some(&all))).consumer_id.as_deref(),
        Some("gamma")
    );
    // A field left out of match_on never maps, even when it would.
    let m = mtls(vec![CertificateField::CommonName], true);
    let uri_only = cert(true, &["nobody"], &[], &["spiffe://acme.test/ns/a/sa/b"]);
    assert_eq!(
        rejected(m.decide(Some(&uri_only))),
        "client certificate maps to no consumer"
    );
}

#[test]
fn unmapped_certificate_without_require_consumer_is_its_own_subject() {
    let c = cert(true, &["svc"], &["svc.test"], &["spiffe://x.test/svc"]);
    let i = identity(mtls(Vec::new(), false).decide(Some(&c)));
    assert_eq!(i.consumer_id, None);
    assert_eq!(i.subject.as_deref(), Some("spiffe://x.test/svc"));
    assert_eq!(i.client_cert.as_deref(), Some("spiffe://x.test/svc"));
    assert!(i.roles.is_empty());
    assert!(!i.anonymous);
}

#[test]
fn unmapped_certificate_with_require_consumer_is_rejected() {
    let c = cert(true, &["svc"], &[], &[]);
    assert_eq!(
        rejected(mtls(Vec::new(), true).decide(Some(&c))),
        "client certificate maps to no consumer"
    );
}

#[test]
fn certificate_without_identity_is_rejected() {
    let c = cert(true, &[], &[], &[]);
    assert_eq!(
        rejected(mtls(Vec::new(), false).decide(Some(&c))),
        "client certificate carries no usable identity"
    );
}

#[tokio::test]
async fn authenticate_reads_the_connection_certificate() {
    let m = mtls(Vec::new(), false);
    assert_eq!(m.name(), "mtls");
    assert_eq!(m.challenge(), CHALLENGE);
    let mut c = cx();
    let mut parts = req("GET", &[]);
    assert!(matches!(
        m.authenticate(&c, &mut parts).await.unwrap(),
        AuthOutcome::NoCredentials
    ));
    c.client_cert = Some(Arc::new(cert(true, &["gamma-client"], &[], &[])));
    let i = identity(m.authenticate(&c, &mut parts).await.unwrap());
    assert_eq!(i.consumer_id.as_deref(), Some("gamma"));
}
