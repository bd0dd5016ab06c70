//! API tokens: scopes, generation and hashing.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::{MetaError, Result, TenantId};

/// What a token may do.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Send events.
    Ingest,
    /// Search and read alerts.
    Read,
    /// Change alerts, rules and settings of its tenant.
    Write,
    /// Administer its tenant (tokens, users, retention).
    Admin,
}

impl Scope {
    const ALL: [Scope; 4] = [Scope::Ingest, Scope::Read, Scope::Write, Scope::Admin];

    fn bit(self) -> u8 {
        match self {
            Scope::Ingest => 1,
            Scope::Read => 2,
            Scope::Write => 4,
            Scope::Admin => 8,
        }
    }

    /// The scope's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }
}

/// A set of scopes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Scopes(u8);

impl Scopes {
    /// Whether the set allows `s`.
    pub fn allows(self, s: Scope) -> bool {
        self.0 & s.bit() != 0
    }

    /// The set with `s` added.
    pub fn with(self, s: Scope) -> Scopes {
        Scopes(self.0 | s.bit())
    }

    /// Parses `ingest,read`.
    pub fn parse(s: &str) -> Result<Scopes> {
        let mut out = Scopes::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let scope = Scope::ALL
                .into_iter()
                .find(|x| x.as_str() == part)
                .ok_or_else(|| {
                    MetaError::Invalid(format!(
                        "unknown scope `{part}` (ingest, read, write, admin)"
                    ))
                })?;
            out = out.with(scope);
        }
        if out == Scopes::default() {
            return Err(MetaError::Invalid(
                "a token needs at least one scope".into(),
            ));
        }
        Ok(out)
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Scope::ALL
            .into_iter()
            .filter(|s| self.allows(*s))
            .map(Scope::as_str)
            .collect();
        f.write_str(&names.join(","))
    }
}

/// A token's id (its row number).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct TokenId(pub i64);

/// A token's record (never the secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenInfo {
    /// Id.
    pub id: TokenId,
    /// Owning tenant.
    pub tenant: TenantId,
    /// Free text to recognise it.
    pub label: String,
    /// What it may do.
    pub scopes: Scopes,
    /// Creation time, UTC ns.
    pub created_at: i64,
    /// Expiry, UTC ns.
    pub expires_at: Option<i64>,
    /// Revocation time, UTC ns.
    pub revoked_at: Option<i64>,
}

/// A new random secret: `kbh_` and 64 hex digits (256 bits).
pub fn generate_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| MetaError::Random(e.to_string()))?;
    let mut s = String::with_capacity(68);
    s.push_str("kbh_");
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    Ok(s)
}

/// The stored form of a secret.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_and_print() {
        let s = Scopes::parse("read, ingest").unwrap();
        assert!(s.allows(Scope::Ingest) && s.allows(Scope::Read) && !s.allows(Scope::Admin));
        assert_eq!(s.to_string(), "ingest,read");
        assert!(Scopes::parse("root").is_err());
        assert!(Scopes::parse("").is_err());
    }

    #[test]
    fn secrets_are_random_and_hashed() {
        let a = generate_secret().unwrap();
        let b = generate_secret().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 68);
        assert_eq!(hash_secret(&a).len(), 64);
        assert_ne!(hash_secret(&a), hash_secret(&b));
    }
}
