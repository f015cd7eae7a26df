//! A certificate authority of a test's own, and a certificate for 127.0.0.1 it signed.

/// What [`certificates`] made.
#[derive(Clone, Debug)]
pub struct TestCertificates {
    /// The authority's certificate, PEM: what a client trusts.
    pub ca_pem: String,
    /// The server's certificate and key, PEM and DER.
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
    pub key_pem: String,
    pub key_der: Vec<u8>,
}

/// A new authority and a certificate for `127.0.0.1` and `localhost` it signed, valid
/// until `days` from now (negative: expired that long ago), from 30 days before that or now,
/// whichever is earlier.
pub fn certificates(days: i64) -> TestCertificates {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    let now = std::time::SystemTime::now();
    let at = |days: i64| {
        let seconds = days * 86_400 + 3_600;
        let when = if seconds >= 0 {
            now + std::time::Duration::from_secs(seconds as u64)
        } else {
            now - std::time::Duration::from_secs(seconds.unsigned_abs())
        };
        rcgen::date_time_ymd(1970, 1, 1)
            + std::time::Duration::from_secs(when.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs())
    };
    params.not_before = at(days.min(0) - 30);
    params.not_after = at(days);
    let cert = params.signed_by(&key, &issuer).unwrap();
    TestCertificates {
        ca_pem: ca.pem(),
        cert_pem: cert.pem(),
        cert_der: cert.der().to_vec(),
        key_pem: key.serialize_pem(),
        key_der: key.serialize_der(),
    }
}
