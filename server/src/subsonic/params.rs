//! A request's parameters: the query string and, for form POSTs (the `formPost` extension), the
//! form body, in that order. Subsonic repeats a name for lists (`id=1&id=2`).

use super::error::SubsonicError;
use std::str::FromStr;

#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses `application/x-www-form-urlencoded` text (a query string or a form body).
    pub fn parse(query: Option<&str>, form: Option<&[u8]>) -> Result<Self, SubsonicError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        if let Some(q) = query {
            pairs.extend(
                serde_urlencoded::from_str::<Vec<(String, String)>>(q)
                    .map_err(|_| SubsonicError::invalid("query", "url-encoded"))?,
            );
        }
        if let Some(body) = form {
            pairs.extend(
                serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
                    .map_err(|_| SubsonicError::invalid("body", "url-encoded"))?,
            );
        }
        Ok(Self(pairs))
    }

    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// A required parameter (error 10 when absent).
    pub fn required(&self, name: &str) -> Result<&str, SubsonicError> {
        self.get(name).ok_or_else(|| SubsonicError::missing(name))
    }

    /// An optional number; present but malformed is error 10.
    pub fn number<T: FromStr>(&self, name: &str) -> Result<Option<T>, SubsonicError> {
        self.get(name)
            .map(|v| {
                v.trim()
                    .parse()
                    .map_err(|_| SubsonicError::invalid(name, "a number in range"))
            })
            .transpose()
    }

    /// Every value of `name` as numbers.
    pub fn numbers<T: FromStr>(&self, name: &str) -> Result<Vec<T>, SubsonicError> {
        self.all(name)
            .into_iter()
            .map(|v| {
                v.trim()
                    .parse()
                    .map_err(|_| SubsonicError::invalid(name, "a number in range"))
            })
            .collect()
    }

    /// An optional boolean (`true`/`false`, also `1`/`0`).
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, SubsonicError> {
        self.get(name)
            .map(|v| match v.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(true),
                "false" | "0" => Ok(false),
                _ => Err(SubsonicError::invalid(name, "true or false")),
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_form_values_are_read_in_order_with_repeats() {
        let p = Params::parse(Some("id=1&id=2&size=5&f=json"), Some(b"id=3&name=a+b%21")).unwrap();
        assert_eq!(p.all("id"), vec!["1", "2", "3"]);
        assert_eq!(p.get("name"), Some("a b!"));
        assert_eq!(p.number::<u32>("size").unwrap(), Some(5));
        assert!(p.number::<u32>("f").is_err());
        assert_eq!(p.required("missing").unwrap_err().code as u32, 10);
        assert_eq!(
            Params::parse(Some("x=1"), None)
                .unwrap()
                .boolean("x")
                .unwrap(),
            Some(true)
        );
    }
}
