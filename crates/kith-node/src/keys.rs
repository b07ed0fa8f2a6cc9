//! The node's persistent identity and WebRTC certificate.
//!
//! Both are created on first start and read back after, so the peer id and the WebRTC
//! certhash (both part of the addresses browsers dial) survive restarts. A file that exists
//! but cannot be read back is an error, never silently replaced: replacing it would change
//! the node's identity under everyone who knows it.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use libp2p::identity::Keypair;
use libp2p_webrtc::tokio::Certificate;

/// Reads the Ed25519 keypair at `path`, or creates it there.
pub fn load_or_create_identity(path: &Path) -> Result<Keypair> {
    if path.exists() {
        let bytes =
            fs::read(path).with_context(|| format!("cannot read key file {}", path.display()))?;
        let key = Keypair::from_protobuf_encoding(&bytes).map_err(|e| {
            anyhow::anyhow!(
                "key file {} is corrupt ({e}); restore it from a backup, or delete it to start with a new identity",
                path.display()
            )
        })?;
        if key.key_type() != libp2p::identity::KeyType::Ed25519 {
            bail!("key file {} does not hold an Ed25519 key", path.display());
        }
        return Ok(key);
    }
    let key = Keypair::generate_ed25519();
    let bytes = key
        .to_protobuf_encoding()
        .context("cannot encode the new identity")?;
    write_private(path, &bytes)?;
    tracing::info!(path = %path.display(), "created a new node identity");
    Ok(key)
}

/// Reads the WebRTC certificate at `path`, or creates it there.
pub fn load_or_create_certificate(path: &Path) -> Result<Certificate> {
    if path.exists() {
        let pem = fs::read_to_string(path)
            .with_context(|| format!("cannot read certificate file {}", path.display()))?;
        return Certificate::from_pem(&pem).map_err(|e| {
            anyhow::anyhow!(
                "certificate file {} is corrupt ({e}); delete it to create a new one (the WebRTC address will change)",
                path.display()
            )
        });
    }
    let cert =
        Certificate::generate(&mut rand::rng()).context("cannot create a WebRTC certificate")?;
    write_private(path, cert.serialize_pem().as_bytes())?;
    tracing::info!(path = %path.display(), "created a new WebRTC certificate");
    Ok(cert)
}

/// Writes a secret file readable only by its owner, creating parent directories.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)
            .with_context(|| format!("cannot create directory {}", dir.display()))?;
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_survives_reload_and_corruption_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/identity.key");
        let a = load_or_create_identity(&path).expect("create");
        let b = load_or_create_identity(&path).expect("reload");
        assert_eq!(a.public(), b.public());
        fs::write(&path, b"garbage").expect("write");
        let err = load_or_create_identity(&path).expect_err("corrupt");
        assert!(err.to_string().contains("is corrupt"), "{err}");
    }

    #[test]
    fn certificate_survives_reload() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cert.pem");
        let a = load_or_create_certificate(&path).expect("create");
        let b = load_or_create_certificate(&path).expect("reload");
        assert_eq!(a.fingerprint(), b.fingerprint());
        fs::write(&path, "-----BEGIN nonsense").expect("write");
        assert!(load_or_create_certificate(&path).is_err());
    }
}
