//! TLS server configuration from PEM files (rustls; TLS 1.2 and 1.3 only), and the self-signed
//! certificate `kasbah serve --tls-self-signed` makes on its first start.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Builds a rustls server configuration from a certificate chain and a private key.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("{}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate found", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
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
}
