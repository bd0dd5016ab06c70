//! TLS server configuration from PEM files (rustls; TLS 1.2 and 1.3 only), and the self-signed
//! certificate `kasbah serve --tls-self-signed` makes on its first start.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Builds a rustls server configuration from a certificate chain and a private key.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, String> {
    server_config_for_clients(cert, key, None)
}

/// The certificates of a PEM file (at least one).
fn pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate found", path.display()));
    }
    Ok(certs)
}

/// [`server_config`], and with `client_ca` (PEM CA certificates) only clients presenting a
/// certificate chained to one of them complete the handshake: the syslog inputs then accept
/// their own relays and nobody else.
pub fn server_config_for_clients(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<Arc<rustls::ServerConfig>, String> {
    let certs = pem_certs(cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in pem_certs(ca)? {
                roots.add(c).map_err(|e| format!("{}: {e}", ca.display()))?;
            }
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .map_err(|e| format!("{}: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let cfg = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("certificate and key: {e}"))?;
    Ok(Arc::new(cfg))
}

/// A self-signed certificate kept in the data directory.
#[derive(Debug, Clone)]
pub struct SelfSigned {
    /// PEM certificate.
    pub cert: PathBuf,
    /// PEM private key (mode 0600).
    pub key: PathBuf,
    /// SHA-256 of the certificate (DER), hex with colons, for users to check what their
    /// browser shows.
    pub fingerprint: String,
    /// Made now (false: found from an earlier start).
    pub created: bool,
}

/// The certificate in `dir/tls/` (`self-signed.pem`, `self-signed.key`), made on the first call
/// for `localhost`, `127.0.0.1`, `::1` and `names` (host names or addresses users reach the
/// console by), valid ten years. Later calls reuse it, so browsers keep trusting it.
pub fn self_signed(dir: &Path, names: &[String]) -> Result<SelfSigned, String> {
    use sha2::Digest as _;
    let tls = dir.join("tls");
    let (cert, key) = (tls.join("self-signed.pem"), tls.join("self-signed.key"));
    let created = !(cert.exists() && key.exists());
    if created {
        std::fs::create_dir_all(&tls).map_err(|e| format!("{}: {e}", tls.display()))?;
        let mut sans = vec!["localhost".to_owned(), "127.0.0.1".into(), "::1".into()];
        sans.extend(names.iter().filter(|n| !n.is_empty()).cloned());
        sans.dedup();
        let mut params =
            rcgen::CertificateParams::new(sans).map_err(|e| format!("certificate names: {e}"))?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Kasbah (self-signed)");
        params.not_before = rcgen::date_time_ymd(2024, 1, 1);
        params.not_after = rcgen::date_time_ymd(2036, 1, 1);
        let pair = rcgen::KeyPair::generate().map_err(|e| format!("key: {e}"))?;
        let made = params
            .self_signed(&pair)
            .map_err(|e| format!("self-signed certificate: {e}"))?;
        write_private(&key, pair.serialize_pem().as_bytes())?;
        std::fs::write(&cert, made.pem()).map_err(|e| format!("{}: {e}", cert.display()))?;
    }
    let der =
        CertificateDer::from_pem_file(&cert).map_err(|e| format!("{}: {e}", cert.display()))?;
    let digest = sha2::Sha256::digest(der.as_ref());
    let fingerprint = digest
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    Ok(SelfSigned {
        cert,
        key,
        fingerprint,
        created,
    })
}

/// Writes a secret file readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_certificate_is_made_once_and_serves() {
        let dir = tempfile::tempdir().unwrap();
        let first = self_signed(dir.path(), &["siem.example.org".into()]).unwrap();
        assert!(first.created);
        assert_eq!(first.fingerprint.len(), 32 * 3 - 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&first.key).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the key is private: {mode:o}");
        }
        let again = self_signed(dir.path(), &[]).unwrap();
        assert!(!again.created);
        assert_eq!(again.fingerprint, first.fingerprint, "kept across starts");
        // rustls accepts the pair, and the names are in the certificate.
        server_config(&first.cert, &first.key).unwrap();
        let der = CertificateDer::from_pem_file(&first.cert).unwrap();
        let bytes = der.as_ref();
        for name in [&b"localhost"[..], b"siem.example.org"] {
            assert!(bytes.windows(name.len()).any(|w| w == name));
        }
    }

    /// A CA (self-signed) and its issuer.
    fn ca(name: &str) -> rcgen::CertifiedIssuer<'static, rcgen::KeyPair> {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap()).unwrap()
    }

    /// A leaf certificate for `name` signed by `issuer`, written as PEM files; returns the
    /// certificate and key paths.
    fn leaf(
        dir: &Path,
        name: &str,
        issuer: &rcgen::CertifiedIssuer<'_, rcgen::KeyPair>,
    ) -> (PathBuf, PathBuf) {
        let params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, issuer).unwrap();
        let (c, k) = (
            dir.join(format!("{name}.pem")),
            dir.join(format!("{name}.key")),
        );
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c, k)
    }

    /// A TLS handshake between a server of `server` and a client trusting `server_ca` that
    /// presents `client` (certificate and key) if given; whether the server accepted it and the
    /// first bytes the client wrote arrived.
    async fn handshake(
        server: Arc<rustls::ServerConfig>,
        server_ca: &Path,
        client: Option<(&Path, &Path)>,
    ) -> bool {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut roots = rustls::RootCertStore::empty();
        for c in pem_certs(server_ca).unwrap() {
            roots.add(c).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let cfg = match client {
            None => builder.with_no_client_auth(),
            Some((c, k)) => builder
                .with_client_auth_cert(
                    pem_certs(c).unwrap(),
                    PrivateKeyDer::from_pem_file(k).unwrap(),
                )
                .unwrap(),
        };
        let (a, b) = tokio::io::duplex(1 << 16);
        let acceptor = tokio_rustls::TlsAcceptor::from(server);
        let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let server_side = async move {
            let mut s = acceptor.accept(a).await.ok()?;
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).await.ok()?;
            Some(buf)
        };
        let client_side = async move {
            if let Ok(mut c) = connector.connect(name, b).await {
                let _ = c.write_all(b"open").await;
                let _ = c.flush().await;
                // Keep the stream open until the server has read (or refused).
                let mut sink = [0u8; 1];
                let _ = tokio::time::timeout(std::time::Duration::from_secs(2), c.read(&mut sink))
                    .await;
            }
        };
        let (got, ()) = tokio::join!(server_side, client_side);
        got == Some(*b"open")
    }

    #[tokio::test]
    async fn a_client_ca_admits_only_clients_with_a_certificate_it_signed() {
        let dir = tempfile::tempdir().unwrap();
        let (ours, theirs) = (ca("Kasbah test CA"), ca("Someone else"));
        let ca_pem = dir.path().join("ca.pem");
        std::fs::write(&ca_pem, ours.pem()).unwrap();
        let (srv_cert, srv_key) = leaf(dir.path(), "localhost", &ours);
        let relay = leaf(dir.path(), "relay-1", &ours);
        let stranger = leaf(dir.path(), "stranger", &theirs);

        // Without a client CA anyone may send (the default, as plain syslog).
        let open = server_config(&srv_cert, &srv_key).unwrap();
        assert!(handshake(open.clone(), &ca_pem, None).await);
        // With one: our relay is admitted; no certificate or another CA's is refused.
        let closed = server_config_for_clients(&srv_cert, &srv_key, Some(&ca_pem)).unwrap();
        assert!(handshake(closed.clone(), &ca_pem, Some((&relay.0, &relay.1))).await);
        assert!(!handshake(closed.clone(), &ca_pem, None).await);
        assert!(!handshake(closed, &ca_pem, Some((&stranger.0, &stranger.1))).await);
        // A file without a certificate is a configuration error, not an open door.
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let err = server_config_for_clients(&srv_cert, &srv_key, Some(&empty)).unwrap_err();
        assert!(err.contains("no certificate"), "{err}");
    }
}
