//! An XML reader that is not ours, for reading back what `export::junit` writes: every
//! element of a document with its attributes unescaped, via quick-xml. Shared by the
//! report tests (`reports/tests/export.rs`, through `common`) and the lab's CI test
//! (`lab/tests/ci.rs`, through `#[path]`): it needs only quick-xml, a dev-dependency of
//! both, so it lives beside the tests of the crate that owns the format rather than in a
//! library (which would make quick-xml a dependency of the report code).

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;

use quick_xml::events::{BytesStart, Event};

/// One element of a parsed document.
#[derive(Debug, Default)]
pub struct Element {
    pub name: String,
    pub attrs: BTreeMap<String, String>,
    /// Names of the parent elements, outermost first.
    pub path: Vec<String>,
}

fn element(e: &BytesStart, stack: &[String]) -> Element {
    let attrs = e
        .attributes()
        .map(|a| {
            let a = a.unwrap();
            (
                String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                a.unescape_value().unwrap().into_owned(),
            )
        })
        .collect();
    Element {
        name: String::from_utf8(e.name().as_ref().to_vec()).unwrap(),
        attrs,
        path: stack.to_vec(),
    }
}

/// Every element of `xml`, with its attributes unescaped, via quick-xml; panics on XML
/// that is not well formed (unbalanced tags, bad entities).
pub fn elements(xml: &str) -> Vec<Element> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut stack: Vec<String> = Vec::new();
    let mut out = Vec::new();
    loop {
        match reader.read_event().unwrap() {
            Event::Eof => break,
            Event::Start(e) => {
                let el = element(&e, &stack);
                stack.push(el.name.clone());
                out.push(el);
            }
            Event::Empty(e) => out.push(element(&e, &stack)),
            Event::End(e) => {
                let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                assert_eq!(stack.pop().as_deref(), Some(name.as_str()), "unbalanced");
            }
            Event::Text(t) => {
                t.unescape().unwrap();
            }
            _ => {}
        }
    }
    assert!(stack.is_empty(), "unclosed elements: {stack:?}");
    out
}

/// The elements of `els` called `name`.
pub fn named<'a>(els: &'a [Element], name: &str) -> Vec<&'a Element> {
    els.iter().filter(|e| e.name == name).collect()
}
