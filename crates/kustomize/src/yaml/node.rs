//! A YAML node tree that keeps what kustomize keeps: the scalar's source text
//! and quoting style, map key order and explicit tags. kustomize works on
//! yaml.v3 nodes rather than decoded values, so `0755` stays `0755` and
//! `'yes'` stays a string; a serde value tree would lose both.

/// How a scalar was written, which decides how it is printed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

/// A scalar: its text after escape processing, its style and an explicit tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar {
    pub value: String,
    pub style: Style,
    /// The tag as written (`!!str`, `!!binary`, `!custom`), when there was one.
    pub tag: Option<String>,
}

impl Scalar {
    /// A string scalar; the emitter quotes it if it would read as another type.
    pub fn string(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            style: Style::Plain,
            tag: Some("!!str".into()),
        }
    }

    /// A plain scalar whose type follows from its text (an int, a bool…).
    pub fn plain(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            style: Style::Plain,
            tag: None,
        }
    }

    /// Whether this scalar is a string in YAML's resolution rules.
    pub fn is_string(&self) -> bool {
        match self.tag.as_deref() {
            Some("!!str") => true,
            Some(_) => false,
            None => self.style != Style::Plain || super::resolve::plain_kind(&self.value).is_str(),
        }
    }

    /// Whether this scalar is YAML null.
    pub fn is_null(&self) -> bool {
        match self.tag.as_deref() {
            Some("!!null") => true,
            Some(_) => false,
            None => {
                self.style == Style::Plain
                    && super::resolve::plain_kind(&self.value) == super::resolve::Kind::Null
            }
        }
    }
}

/// Whether a collection was written in flow style (`[a, b]`, `{a: b}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flow {
    #[default]
    Block,
    Flow,
}

/// One YAML node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Scalar(Scalar),
    Seq(Vec<Node>, Flow),
    Map(Mapping, Flow),
}

/// An ordered mapping with string keys (Kubernetes objects only use strings).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mapping {
    pub entries: Vec<(Scalar, Node)>,
}

impl Mapping {
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.value == key)
            .map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.entries
            .iter_mut()
            .find(|(k, _)| k.value == key)
            .map(|(_, v)| v)
    }

    /// Sets `key`, keeping its position when it exists and appending otherwise.
    pub fn insert(&mut self, key: &str, value: Node) {
        match self.get_mut(key) {
            Some(slot) => *slot = value,
            None => self.entries.push((Scalar::plain(key), value)),
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Node> {
        let at = self.entries.iter().position(|(k, _)| k.value == key)?;
        Some(self.entries.remove(at).1)
    }

    /// The map under `key`, created empty when it is missing or not a map.
    pub fn map_entry(&mut self, key: &str) -> &mut Mapping {
        if !matches!(self.get(key), Some(Node::Map(..))) {
            self.insert(key, Node::map());
        }
        match self.get_mut(key) {
            Some(Node::Map(m, _)) => m,
            // The branch above just stored a map under this key.
            _ => unreachable!("map_entry stored a map"),
        }
    }
}

impl Node {
    pub fn map() -> Self {
        Node::Map(Mapping::default(), Flow::Block)
    }

    pub fn string(value: impl Into<String>) -> Self {
        Node::Scalar(Scalar::string(value))
    }

    pub fn as_map(&self) -> Option<&Mapping> {
        match self {
            Node::Map(m, _) => Some(m),
            _ => None,
        }
    }

    pub fn as_map_mut(&mut self) -> Option<&mut Mapping> {
        match self {
            Node::Map(m, _) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&Vec<Node>> {
        match self {
            Node::Seq(s, _) => Some(s),
            _ => None,
        }
    }

    pub fn as_seq_mut(&mut self) -> Option<&mut Vec<Node>> {
        match self {
            Node::Seq(s, _) => Some(s),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar(s) => Some(&s.value),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Node::Scalar(s) if s.is_null())
    }

    /// The node at a path of map keys.
    pub fn at(&self, path: &[&str]) -> Option<&Node> {
        let mut node = self;
        for key in path {
            node = node.as_map()?.get(key)?;
        }
        Some(node)
    }

    pub fn at_mut(&mut self, path: &[&str]) -> Option<&mut Node> {
        let mut node = self;
        for key in path {
            node = node.as_map_mut()?.get_mut(key)?;
        }
        Some(node)
    }

    /// The string at a path of map keys.
    pub fn str_at(&self, path: &[&str]) -> Option<&str> {
        self.at(path)?.as_str()
    }
}
