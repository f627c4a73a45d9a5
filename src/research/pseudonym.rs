//! Pseudonyms: HMAC-SHA256 under the DPO's key over (extract id, student id),
//! truncated to 16 hex characters. The same student has one pseudonym within
//! an extract and unrelated ones across extracts (each has a fresh random id);
//! without the key a pseudonym cannot be linked back to a student.

use crate::error::{AppError, AppResult};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// Hex characters of a pseudonym (64 bits).
pub const LENGTH: usize = 16;

/// The pseudonym of `student` in extract `extract`.
pub fn pseudonym(key: &[u8], extract: Uuid, student: Uuid) -> AppResult<String> {
    let mut mac =
        HmacSha256::new_from_slice(key).map_err(|e| AppError::internal("research pseudonym", e))?;
    mac.update(b"confide-research-extract/1");
    mac.update(extract.as_bytes());
    mac.update(student.as_bytes());
    let digest = mac.finalize().into_bytes();
    Ok(hex::encode(digest).chars().take(LENGTH).collect())
}

/// The student (of `candidates`) whose pseudonym in `extract` is `pseudonym`:
/// how the DPO, holding the key, re-identifies a row when the law requires it.
pub fn reidentify(
    key: &[u8],
    extract: Uuid,
    pseudonym_text: &str,
    candidates: impl IntoIterator<Item = Uuid>,
) -> AppResult<Option<Uuid>> {
    for student in candidates {
        if pseudonym(key, extract, student)? == pseudonym_text {
            return Ok(Some(student));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_pseudonym_is_stable_within_an_extract_and_differs_across_extracts() {
        let (e1, e2, s) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let p = pseudonym(KEY, e1, s).unwrap();
        assert_eq!(p.len(), LENGTH);
        assert!(p.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(p, pseudonym(KEY, e1, s).unwrap());
        assert_ne!(p, pseudonym(KEY, e2, s).unwrap());
        assert_ne!(p, pseudonym(KEY, e1, Uuid::new_v4()).unwrap());
        assert!(!p.contains(&s.simple().to_string()[..8]));
    }

    #[test]
    fn without_the_key_the_pseudonym_is_not_reproduced_and_with_it_the_student_is_found() {
        let (e, s) = (Uuid::new_v4(), Uuid::new_v4());
        let p = pseudonym(KEY, e, s).unwrap();
        assert_ne!(
            p,
            pseudonym(b"another key, another key, another", e, s).unwrap()
        );
        let others: Vec<Uuid> = (0..50).map(|_| Uuid::new_v4()).collect();
        let all = others.iter().copied().chain([s]);
        assert_eq!(reidentify(KEY, e, &p, all).unwrap(), Some(s));
        assert_eq!(reidentify(KEY, e, &p, others).unwrap(), None);
    }
}
