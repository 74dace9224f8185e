//! IAM-style wildcard patterns: `*` matches any run of characters, `?` exactly one.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    /// Lower-cased copy for case-insensitive use (IAM action names).
    lower: String,
    wild: bool,
}

impl Pattern {
    pub fn new(text: &str) -> Self {
        Pattern {
            text: text.to_string(),
            lower: text.to_ascii_lowercase(),
            wild: text.contains(['*', '?']),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn is_wildcard(&self) -> bool {
        self.wild
    }

    /// Characters that are not wildcards: more means more specific.
    pub fn literal_len(&self) -> usize {
        self.text.chars().filter(|c| *c != '*' && *c != '?').count()
    }

    pub fn matches(&self, s: &str) -> bool {
        if !self.wild {
            return self.text == s;
        }
        glob(self.text.as_bytes(), s.as_bytes(), false)
    }

    /// Case-insensitive match (for actions: `s3:getobject` is `s3:GetObject` in IAM).
    pub fn matches_ci(&self, s: &str) -> bool {
        if !self.wild {
            return self.lower.eq_ignore_ascii_case(s);
        }
        glob(self.lower.as_bytes(), s.as_bytes(), true)
    }
}

fn eq(a: u8, b: u8, ci: bool) -> bool {
    if ci {
        a == b.to_ascii_lowercase()
    } else {
        a == b
    }
}

/// Iterative glob with single backtrack point: linear in practice, no recursion.
fn glob(p: &[u8], s: &[u8], ci: bool) -> bool {
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'?' || (p[pi] != b'*' && eq(p[pi], s[si], ci))) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

impl Serialize for Pattern {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.trim().is_empty() {
            return Err(serde::de::Error::custom("empty pattern"));
        }
        Ok(Pattern::new(s.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        let p = Pattern::new("arn:aws:iam::*:role/aws-reserved/sso.amazonaws.com/*");
        assert!(p.matches(
            "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_1"
        ));
        assert!(!p.matches("arn:aws:iam::111122223333:role/AWSReservedSSO_Admin_1"));
        assert!(Pattern::new("s3:Get*").matches_ci("s3:getobject"));
        assert!(!Pattern::new("s3:Get*").matches("s3:getobject"));
        assert!(Pattern::new("a?c").matches("abc"));
        assert!(!Pattern::new("a?c").matches("abbc"));
        assert!(Pattern::new("*a*b*").matches("xxaxxbxx"));
        assert!(!Pattern::new("*a*b").matches("xxaxxbxx"));
        assert!(Pattern::new("exact").matches("exact"));
        assert!(!Pattern::new("exact").matches("exactly"));
        assert_eq!(Pattern::new("arn:*:x").literal_len(), 6);
    }
}
