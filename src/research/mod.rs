//! The research extract (issue 11, item 3): a pseudonymised, k-anonymised
//! per-case extract of the students whose consent covers research, for
//! analysts. [`extract`] builds it from the database; [`anonymity`] is the
//! k-anonymity (global recoding, then suppression); [`pseudonym`] the keyed
//! pseudonyms; [`output`] writes it as CSV or JSON Lines (the CLI);
//! [`reidentify`] is the DPO's way back from a pseudonym (the CLI).

pub mod anonymity;
pub mod extract;
pub mod output;
pub mod pseudonym;
pub mod reidentify;

use crate::error::{AppError, AppResult};
use rand::RngCore;
use std::sync::Arc;

/// The research extract's settings, fixed at startup.
#[derive(Clone)]
pub struct Config {
    /// The smallest k of an extract: every released combination of
    /// quasi-identifiers is shared by at least k students.
    pub k: u32,
    /// The pseudonym key (the DPO's secret), or a random one for this process.
    key: Arc<Vec<u8>>,
}

impl std::fmt::Debug for Config {
    /// The key is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("k", &self.k)
            .field("key", &"<secret>")
            .finish()
    }
}

impl Default for Config {
    /// k = 5 and a random key (pseudonyms that nobody can reverse).
    fn default() -> Self {
        Config {
            k: 5,
            key: Arc::new(random_key()),
        }
    }
}

fn random_key() -> Vec<u8> {
    let mut key = vec![0u8; 32];
    rand::rng().fill_bytes(&mut key);
    key
}

/// Shortest pseudonym key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

impl Config {
    /// From the settings: the DPO's key if configured (at least 32 bytes),
    /// else a random key for this process, with a warning in the log.
    pub fn from_settings(settings: &crate::settings::ResearchSettings) -> AppResult<Self> {
        if settings.research_k < 1 {
            return Err(AppError::internal(
                "research",
                "--research-k must be at least 1",
            ));
        }
        let key = match settings.pseudonym_key.as_deref() {
            Some(key) if key.len() >= MIN_KEY_BYTES => key.as_bytes().to_vec(),
            Some(_) => {
                return Err(AppError::internal(
                    "research",
                    format!("--pseudonym-key must be at least {MIN_KEY_BYTES} bytes"),
                ))
            }
            None => {
                tracing::warn!(
                    "no pseudonym key configured (CONFIDE_PSEUDONYM_KEY): research extracts \
                     use a random key for this process, so their pseudonyms cannot be reversed"
                );
                random_key()
            }
        };
        Ok(Config {
            k: settings.research_k,
            key: Arc::new(key),
        })
    }

    /// A configuration with this k and key (tests, tools).
    pub fn with_key(k: u32, key: &[u8]) -> Self {
        Config {
            k,
            key: Arc::new(key.to_vec()),
        }
    }

    pub(crate) fn key(&self) -> &[u8] {
        &self.key
    }
}
