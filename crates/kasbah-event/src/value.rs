//! Typed field values.

use std::fmt;

use compact_str::CompactString;

/// The value of one field. Strings up to 24 bytes are stored inline (no allocation).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// An explicit null (JSON `null`, syslog's `-`, Zeek's `-`).
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer; unsigned values above `i64::MAX` are kept as [`Value::Float`] or text.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// Text.
    Str(CompactString),
    /// A list of values (JSON arrays, Zeek `set`/`vector`, repeated keys).
    List(Vec<Value>),
}

impl Value {
    /// Builds a string value.
    pub fn str(s: &str) -> Value {
        Value::Str(CompactString::new(s))
    }

    /// The text of a string value, borrowed.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as an integer, also parsing text that holds an integer.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            Value::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// The value as a float, also parsing numeric text.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// True for [`Value::Null`] and empty lists.
    pub fn is_null(&self) -> bool {
        match self {
            Value::Null => true,
            Value::List(l) => l.is_empty(),
            _ => false,
        }
    }

    /// Infers a typed value from text: integers become [`Value::Int`], everything else stays text.
    /// Used by formats that carry no types (key=value, CEF extensions).
    pub fn infer(text: &str) -> Value {
        let b = text.as_bytes();
        let digits = if b.first() == Some(&b'-') { &b[1..] } else { b };
        // Leading zeros ("007", port "0443") are identifiers, not numbers: keep them as text.
        let plain_int = !digits.is_empty()
            && digits.len() <= 18
            && digits.iter().all(u8::is_ascii_digit)
            && (digits.len() == 1 || digits[0] != b'0');
        if plain_int && let Ok(i) = text.parse() {
            return Value::Int(i);
        }
        Value::str(text)
    }

    /// Converts a JSON value. Objects are not expected here (callers flatten them first) and are
    /// kept as their JSON text.
    pub fn from_json(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else if let Some(f) = n.as_f64() {
                    Value::Float(f)
                } else {
                    Value::Str(CompactString::new(n.to_string()))
                }
            }
            serde_json::Value::String(s) => Value::str(s),
            serde_json::Value::Array(a) => Value::List(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(_) => Value::Str(CompactString::new(v.to_string())),
        }
    }
}

impl fmt::Display for Value {
    /// The text form used when a rule compares a value as a string (`4688`, `true`, `a, b`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => Ok(()),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(s) => f.write_str(s),
            Value::List(l) => {
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                Ok(())
            }
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::str(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(CompactString::from(s))
    }
}

impl From<CompactString> for Value {
    fn from(s: CompactString) -> Self {
        Value::Str(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<u16> for Value {
    fn from(i: u16) -> Self {
        Value::Int(i64::from(i))
    }
}

impl From<u32> for Value {
    fn from(i: u32) -> Self {
        Value::Int(i64::from(i))
    }
}

impl From<u64> for Value {
    fn from(i: u64) -> Self {
        i64::try_from(i).map_or(Value::Float(i as f64), Value::Int)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infer_keeps_identifiers_as_text() {
        assert_eq!(Value::infer("4688"), Value::Int(4688));
        assert_eq!(Value::infer("-12"), Value::Int(-12));
        assert_eq!(Value::infer("0"), Value::Int(0));
        assert_eq!(Value::infer("007"), Value::str("007"));
        assert_eq!(Value::infer("1.5"), Value::str("1.5"));
        assert_eq!(
            Value::infer("99999999999999999999"),
            Value::str("99999999999999999999")
        );
        assert_eq!(Value::infer("-"), Value::str("-"));
    }

    #[test]
    fn display_is_the_matching_text() {
        assert_eq!(Value::Int(4624).to_string(), "4624");
        assert_eq!(
            Value::List(vec![Value::str("a"), Value::Int(1)]).to_string(),
            "a, 1"
        );
    }
}
