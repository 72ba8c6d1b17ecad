//! What the formatters read from spans and events: the connection a line belongs to, and the
//! fields of an event in order.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The fields of a span the formatters care about, kept in the span's extensions.
#[derive(Debug, Default)]
pub(super) struct SpanFields {
    id: Option<u64>,
    role: Option<String>,
    peer: Option<String>,
}

impl Visit for SpanFields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "id" {
            self.id = Some(value);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "role" => self.role = Some(value.to_string()),
            "peer" => self.peer = Some(value.to_string()),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if matches!(field.name(), "role" | "peer") {
            let text = format!("{value:?}");
            self.record_str(field, text.trim_matches('"'));
        }
    }
}

/// Stores a new span's fields (every layer that reads [`Connection`] calls it).
pub(super) fn on_new_span<S>(attrs: &Attributes<'_>, id: &tracing::span::Id, ctx: &Context<'_, S>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let Some(span) = ctx.span(id) else { return };
    let mut extensions = span.extensions_mut();
    if extensions.get_mut::<SpanFields>().is_none() {
        let mut fields = SpanFields::default();
        attrs.record(&mut fields);
        extensions.insert(fields);
    }
}

/// Updates a span's fields when one is recorded later (the peer of a connection).
pub(super) fn on_record<S>(id: &tracing::span::Id, values: &Record<'_>, ctx: &Context<'_, S>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let Some(span) = ctx.span(id) else { return };
    let mut extensions = span.extensions_mut();
    if let Some(fields) = extensions.get_mut::<SpanFields>() {
        values.record(fields);
    }
}

/// The connection an event belongs to: the nearest span with an id, and the nearest `peer`
/// (its own, or an enclosing span's).
#[derive(Debug, Default)]
pub(super) struct Connection {
    pub(super) id: Option<u64>,
    pub(super) role: Option<String>,
    pub(super) peer: Option<String>,
}

impl Connection {
    pub(super) fn of<S>(event: &Event<'_>, ctx: &Context<'_, S>) -> Self
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let mut connection = Self::default();
        let Some(span) = ctx.event_span(event) else {
            return connection;
        };
        for span in span.scope() {
            let extensions = span.extensions();
            let Some(fields) = extensions.get::<SpanFields>() else {
                continue;
            };
            if connection.id.is_none() && fields.id.is_some() {
                connection.id = fields.id;
                connection.role.clone_from(&fields.role);
            }
            if connection.peer.is_none() {
                connection.peer.clone_from(&fields.peer);
            }
        }
        connection
    }
}

/// One field value of an event.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Value {
    Str(String),
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
}

/// The fields of an event, in the order they were recorded.
#[derive(Debug, Default)]
pub(super) struct EventFields(pub(super) Vec<(&'static str, Value)>);

impl EventFields {
    pub(super) fn of(event: &Event<'_>) -> Self {
        let mut fields = Self::default();
        event.record(&mut fields);
        fields
    }

    pub(super) fn str(&self, name: &str) -> Option<&str> {
        self.0.iter().find_map(|(field, value)| match value {
            Value::Str(text) if *field == name => Some(text.as_str()),
            _ => None,
        })
    }

    pub(super) fn u64(&self, name: &str) -> Option<u64> {
        self.0.iter().find_map(|(field, value)| match value {
            Value::U64(number) if *field == name => Some(*number),
            _ => None,
        })
    }
}

impl Visit for EventFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.push((field.name(), Value::F64(value)));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.push((field.name(), Value::I64(value)));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.push((field.name(), Value::U64(value)));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.push((field.name(), Value::Bool(value)));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name(), Value::Str(value.to_string())));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .push((field.name(), Value::Str(format!("{value:?}"))));
    }
}
