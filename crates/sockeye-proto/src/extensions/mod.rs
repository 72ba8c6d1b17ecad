//! Extension negotiation headers (RFC 6455 section 9.1): parsing `Sec-WebSocket-Extensions`,
//! and permessage-deflate (RFC 7692) in [`deflate`].

pub mod deflate;

use std::fmt;

/// One extension in a `Sec-WebSocket-Extensions` header: a name and its parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionOffer {
    /// The extension token, such as `permessage-deflate`.
    pub name: String,
    /// Parameters in order: name and optional value (quotes removed).
    pub params: Vec<(String, Option<String>)>,
}

impl ExtensionOffer {
    /// Parses every extension in a header value: `a; x=1, b`.
    ///
    /// Malformed entries (empty names) are skipped rather than failing the whole header.
    pub fn parse_list(value: &str) -> Vec<Self> {
        value
            .split(',')
            .filter_map(|entry| {
                let mut parts = entry.split(';').map(str::trim);
                let name = parts.next().filter(|n| !n.is_empty())?;
                let params = parts
                    .filter(|p| !p.is_empty())
                    .map(|p| match p.split_once('=') {
                        Some((k, v)) => (
                            k.trim().to_string(),
                            Some(v.trim().trim_matches('"').to_string()),
                        ),
                        None => (p.to_string(), None),
                    })
                    .collect();
                Some(Self {
                    name: name.to_string(),
                    params,
                })
            })
            .collect()
    }
}

impl fmt::Display for ExtensionOffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for (key, value) in &self.params {
            match value {
                Some(value) => write!(f, "; {key}={value}")?,
                None => write!(f, "; {key}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_params() {
        let list = ExtensionOffer::parse_list(
            "permessage-deflate; client_max_window_bits, foo; bar=\"1\" , ,",
        );
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].name, "permessage-deflate");
        assert_eq!(
            list[0].params,
            vec![("client_max_window_bits".to_string(), None)]
        );
        assert_eq!(list[1].to_string(), "foo; bar=1");
    }
}
