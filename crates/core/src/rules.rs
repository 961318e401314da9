//! Field rules, each declared once on the type that enforces it (`InstanceName::RULE`,
//! `RateLimit::REQUESTS`), and read from there by its parser, the spec's request
//! schemas, the MCP tool schemas built from them, and the descriptions.
//!
//! A [`Rule::Text`] pattern is the grammar as JSON Schema states it (ECMA-262); the
//! parser beside it is the authority, and the conformance tests send what the pattern
//! allows.

/// What a field accepts.
#[derive(Debug, Clone, Copy)]
pub enum Rule {
    /// Text of `min` to `max` characters, matching `pattern` when there is one;
    /// `chars` says in words what the pattern asks.
    Text {
        min: usize,
        max: usize,
        pattern: Option<&'static str>,
        chars: Option<&'static str>,
    },
    /// A whole number from `min` to `max`.
    Whole { min: u64, max: u64 },
    /// A list of at least `min` items, each one of `values()`; `name` names the set
    /// (a schema of its own in the spec).
    Each {
        min: usize,
        name: &'static str,
        values: fn() -> Vec<String>,
    },
}

/// Text with at least one visible character and no control characters.
pub const PRINTABLE: &str =
    r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$";

/// Text without whitespace or control characters.
pub const NO_SPACE: &str = r"^[^\s\x00-\x1f\x7f-\x9f]+$";

impl Rule {
    /// Text of 1 to `max` characters, not blank, without control characters.
    pub const fn printable(max: usize) -> Self {
        Self::Text {
            min: 1,
            max,
            pattern: Some(PRINTABLE),
            chars: Some("not blank, no control characters"),
        }
    }

    /// Text of 1 to `max` characters, without whitespace or control characters.
    pub const fn no_space(max: usize) -> Self {
        Self::Text {
            min: 1,
            max,
            pattern: Some(NO_SPACE),
            chars: Some("no whitespace"),
        }
    }

    /// Text of `min` to `max` characters of any kind.
    pub const fn length(min: usize, max: usize) -> Self {
        Self::Text {
            min,
            max,
            pattern: None,
            chars: None,
        }
    }

    /// The rule in words, for descriptions: `1 to 64 characters, [a-z0-9-]`.
    pub fn describe(&self) -> String {
        match self {
            Self::Text {
                min, max, chars, ..
            } => {
                let mut out = if *min == 0 {
                    format!("At most {} characters", thousands(*max as u64))
                } else if min == max {
                    format!("{min} characters")
                } else {
                    format!("{min} to {} characters", thousands(*max as u64))
                };
                if let Some(chars) = chars {
                    out.push_str(", ");
                    out.push_str(chars);
                }
                out.push('.');
                out
            }
            Self::Whole { min, max } => format!("{min} to {}.", thousands(*max)),
            Self::Each { min: 1, .. } => "At least one.".to_owned(),
            Self::Each { min, .. } => format!("At least {min}."),
        }
    }
}

/// `86400` as `86,400`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_read_as_sentences() {
        assert_eq!(
            Rule::printable(100).describe(),
            "1 to 100 characters, not blank, no control characters."
        );
        assert_eq!(
            Rule::Whole {
                min: 1,
                max: 86_400
            }
            .describe(),
            "1 to 86,400."
        );
        assert_eq!(
            Rule::Whole {
                min: 0,
                max: 1_000_000
            }
            .describe(),
            "0 to 1,000,000."
        );
        assert_eq!(Rule::length(1, 8192).describe(), "1 to 8,192 characters.");
        assert_eq!(Rule::length(71, 71).describe(), "71 characters.");
    }
}
