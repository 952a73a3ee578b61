//! The `subsonic-response` envelope and its three renderings: XML (the default, namespace
//! `http://subsonic.org/restapi`), JSON and JSONP. The model is serialized once to JSON values;
//! XML is derived from them by one rule: scalars become attributes (a `value` field becomes the
//! element's text), objects child elements, arrays repeated child elements.

use super::error::SubsonicError;
use super::params::Params;
use super::{API_VERSION, SERVER_TYPE, SERVER_VERSION};
use quick_xml::escape::escape;
use serde::Serialize;
use serde_json::{Map, Value};

pub const XML_NAMESPACE: &str = "http://subsonic.org/restapi";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    Xml,
    Json,
    /// JSON wrapped in a call of this (validated) function name.
    Jsonp(String),
}

impl Format {
    /// The format a request asks for (`f`, `callback`). A JSONP request without a usable
    /// callback is answered in JSON, with the error.
    pub fn from_params(params: &Params) -> (Self, Option<SubsonicError>) {
        match params.get("f") {
            Some("json") => (Self::Json, None),
            Some("jsonp") => match params.get("callback") {
                Some(cb) if valid_callback(cb) => (Self::Jsonp(cb.to_string()), None),
                Some(_) => (
                    Self::Json,
                    Some(SubsonicError::invalid(
                        "callback",
                        "a JavaScript function name",
                    )),
                ),
                None => (Self::Json, Some(SubsonicError::missing("callback"))),
            },
            _ => (Self::Xml, None),
        }
    }

    pub fn content_type(&self) -> &'static str {
        match self {
            Self::Xml => "text/xml; charset=utf-8",
            Self::Json => "application/json",
            Self::Jsonp(_) => "application/javascript; charset=utf-8",
        }
    }
}

fn valid_callback(name: &str) -> bool {
    let mut chars = name.chars();
    (1..=128).contains(&name.len())
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '.'))
}

/// What a successful call answers inside the envelope: usually one named element.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Payload(Vec<(&'static str, Value)>);

impl Payload {
    /// Just `status="ok"` (ping, star, scrobble, ...).
    pub fn empty() -> Self {
        Self(Vec::new())
    }

    pub fn one(name: &'static str, value: &impl Serialize) -> Result<Self, SubsonicError> {
        Ok(Self(vec![(
            name,
            serde_json::to_value(value).map_err(SubsonicError::internal)?,
        )]))
    }
}

fn envelope(result: &Result<Payload, SubsonicError>) -> Map<String, Value> {
    let mut m = Map::new();
    let ok = result.is_ok();
    m.insert("status".into(), (if ok { "ok" } else { "failed" }).into());
    m.insert("version".into(), API_VERSION.into());
    m.insert("type".into(), SERVER_TYPE.into());
    m.insert("serverVersion".into(), SERVER_VERSION.into());
    m.insert("openSubsonic".into(), true.into());
    match result {
        Ok(Payload(items)) => {
            for (name, value) in items {
                m.insert((*name).into(), value.clone());
            }
        }
        Err(e) => {
            m.insert(
                "error".into(),
                serde_json::json!({"code": e.code as u32, "message": e.message}),
            );
        }
    }
    m
}

/// The response body in `format`.
pub fn render(format: &Format, result: &Result<Payload, SubsonicError>) -> String {
    let env = envelope(result);
    match format {
        Format::Json => json(env),
        Format::Jsonp(callback) => format!("{callback}({});", json(env)),
        Format::Xml => xml(&env),
    }
}

fn json(env: Map<String, Value>) -> String {
    let mut root = Map::new();
    root.insert("subsonic-response".into(), Value::Object(env));
    Value::Object(root).to_string()
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn xml(env: &Map<String, Value>) -> String {
    let mut out = String::from(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    out.push_str(&format!(r#"<subsonic-response xmlns="{XML_NAMESPACE}""#));
    let mut body = String::new();
    for (k, v) in env {
        match scalar_text(v) {
            Some(text) => out.push_str(&format!(r#" {k}="{}""#, escape(&text))),
            None => element(&mut body, k, v),
        }
    }
    out.push('>');
    out.push_str(&body);
    out.push_str("</subsonic-response>");
    out
}

/// Elements whose scalar fields the spec's schema has as child elements with text, not as
/// attributes (`<artistInfo2><musicBrainzId>…</musicBrainzId>`): DSub's and Subsonic's own
/// parsers read them as elements.
const TEXT_CHILDREN: &[&str] = &["artistInfo", "artistInfo2", "albumInfo"];

fn element(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Null => {}
        Value::Array(items) => {
            for item in items {
                element(out, name, item);
            }
        }
        Value::Object(map) => {
            out.push('<');
            out.push_str(name);
            let mut text = None;
            let mut children = String::new();
            let scalars_as_children = TEXT_CHILDREN.contains(&name);
            for (k, v) in map {
                match scalar_text(v) {
                    Some(t) if k == "value" => text = Some(t),
                    Some(_) if scalars_as_children => element(&mut children, k, v),
                    Some(t) => out.push_str(&format!(r#" {k}="{}""#, escape(&t))),
                    None => element(&mut children, k, v),
                }
            }
            if text.is_none() && children.is_empty() {
                out.push_str("/>");
            } else {
                out.push('>');
                if let Some(t) = text {
                    out.push_str(&escape(&t));
                }
                out.push_str(&children);
                out.push_str(&format!("</{name}>"));
            }
        }
        scalar => {
            let text = scalar_text(scalar).unwrap_or_default();
            out.push_str(&format!("<{name}>{}</{name}>", escape(&text)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subsonic::error::Code;

    #[test]
    fn xml_gives_info_fields_as_elements_as_the_schema_has_them() {
        let payload = Payload::one(
            "artistInfo2",
            &serde_json::json!({"musicBrainzId": "mb&1", "similarArtist": [{"id": "ar-1", "name": "A"}]}),
        )
        .unwrap();
        let x = render(&Format::Xml, &Ok(payload));
        assert!(
            x.contains(r#"<artistInfo2><musicBrainzId>mb&amp;1</musicBrainzId><similarArtist id="ar-1" name="A"/></artistInfo2>"#),
            "{x}"
        );
    }

    #[test]
    fn xml_puts_scalars_in_attributes_values_in_text_and_lists_in_repeats() {
        let payload = Payload::one(
            "genres",
            &serde_json::json!({"genre": [{"value": "Rock & Roll", "songCount": 2}, {"value": "Jazz", "songCount": 1}]}),
        )
        .unwrap();
        let x = render(&Format::Xml, &Ok(payload));
        assert!(x.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?><subsonic-response xmlns="http://subsonic.org/restapi""#), "{x}");
        assert!(x.contains(r#"status="ok""#) && x.contains(r#"version="1.16.1""#));
        assert!(x.contains(r#"openSubsonic="true""#) && x.contains(r#"type="mixtape""#));
        assert!(x.contains(r#"<genres><genre songCount="2">Rock &amp; Roll</genre><genre songCount="1">Jazz</genre></genres>"#), "{x}");
    }

    #[test]
    fn errors_render_with_code_and_message_in_every_format() {
        let err = Err(SubsonicError::new(Code::NotFound, "album <x> not found"));
        let x = render(&Format::Xml, &err);
        assert!(x.contains(r#"status="failed""#));
        assert!(
            x.contains(r#"<error code="70" message="album &lt;x&gt; not found"/>"#),
            "{x}"
        );
        let j: Value = serde_json::from_str(&render(&Format::Json, &err)).unwrap();
        assert_eq!(j["subsonic-response"]["error"]["code"], 70);
        assert_eq!(j["subsonic-response"]["status"], "failed");
        let p = render(&Format::Jsonp("cb".into()), &err);
        assert!(p.starts_with("cb({") && p.ends_with("});"));
    }

    #[test]
    fn jsonp_needs_a_plain_function_name() {
        let p = |q: &str| Format::from_params(&Params::parse(Some(q), None).unwrap());
        assert_eq!(
            p("f=jsonp&callback=my.cb_1").0,
            Format::Jsonp("my.cb_1".into())
        );
        assert_eq!(p("f=jsonp&callback=alert(1)").0, Format::Json);
        assert!(p("f=jsonp").1.is_some());
        assert_eq!(p("").0, Format::Xml);
    }
}
