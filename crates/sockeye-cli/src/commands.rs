//! `sockeye connect --slash`: stdin lines that start with `/` are commands.
//!
//! ```text
//! /ping [TEXT]   /pong [TEXT]   /binary HEX   /close [CODE [REASON]]
//! /frame opcode=N [fin=0|1] [rsv=N] [hex=HEX | text=TEXT]
//! //text         the text message "/text"
//! ```

use sockeye::{CloseCode, CloseFrame, Frame, Message, OpCode};

/// What a stdin line asks to send: a text message unless `slash` is on and it is a command.
pub(crate) fn parse(line: &str, slash: bool) -> Result<Message, String> {
    let Some(command) = line.strip_prefix('/').filter(|_| slash) else {
        return Ok(Message::text(line));
    };
    if command.starts_with('/') {
        return Ok(Message::text(command));
    }
    let (name, rest) = command.split_once(' ').unwrap_or((command, ""));
    match name {
        "ping" => Ok(Message::Ping(control_payload(rest)?.into())),
        "pong" => Ok(Message::Pong(control_payload(rest)?.into())),
        "binary" => Ok(Message::binary(hex(rest)?)),
        "close" => close(rest.trim_start()),
        "frame" => raw_frame(rest).map(Message::Frame),
        _ => Err(format!(
            "unknown command /{name}: the commands are /ping, /pong, /binary, /close and /frame \
             (send \"//{name}\" for a text message that starts with /)"
        )),
    }
}

fn control_payload(text: &str) -> Result<Vec<u8>, String> {
    if text.len() > 125 {
        return Err(format!(
            "a control frame carries at most 125 bytes, not {} (use /frame to send a longer one anyway)",
            text.len()
        ));
    }
    Ok(text.as_bytes().to_vec())
}

fn close(rest: &str) -> Result<Message, String> {
    if rest.is_empty() {
        return Ok(Message::Close(Some(CloseFrame::new(CloseCode::Normal, ""))));
    }
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    let code: u16 = code
        .parse()
        .map_err(|_| format!("/close takes a numeric code first, not {code:?}"))?;
    let code = CloseCode::from(code);
    if !code.is_allowed_on_wire() {
        return Err(format!(
            "{code} may not be sent in a close frame (RFC 6455 section 7.4); to send it anyway: \
             /frame opcode=0x8 hex={:04x}",
            code.as_u16()
        ));
    }
    if reason.len() > 123 {
        return Err(format!(
            "a close reason is at most 123 bytes, not {}",
            reason.len()
        ));
    }
    Ok(Message::Close(Some(CloseFrame::new(code, reason))))
}

/// `opcode=N [fin=0|1] [rsv=N] [hex=HEX | text=TEXT]`.
fn raw_frame(spec: &str) -> Result<Frame, String> {
    let mut opcode = None;
    let mut fin = true;
    let mut rsv = 0;
    let mut payload = Vec::new();
    let mut rest = spec.trim_start();
    while !rest.is_empty() {
        if let Some(text) = rest.strip_prefix("text=") {
            payload = text.as_bytes().to_vec();
            break;
        }
        let (token, after) = rest.split_once(' ').unwrap_or((rest, ""));
        rest = after.trim_start();
        let Some((key, value)) = token.split_once('=') else {
            return Err(format!("/frame expects key=value, not {token:?}"));
        };
        match key {
            "opcode" => opcode = Some(number(key, value, 0xF)?),
            "fin" => fin = number(key, value, 1)? == 1,
            "rsv" => rsv = number(key, value, 0b111)?,
            "hex" => payload = hex(value)?,
            _ => {
                return Err(format!(
                    "/frame knows opcode=, fin=, rsv=, hex= and text=, not {key}="
                ))
            }
        }
    }
    let opcode = opcode.ok_or("/frame needs opcode=N (0x0-0xF)")?;
    Ok(Frame::new(OpCode::from_bits(opcode), payload)
        .with_fin(fin)
        .with_rsv(rsv))
}

/// A number in decimal, `0x…` or `0b…`, at most `max`.
fn number(key: &str, value: &str, max: u8) -> Result<u8, String> {
    let parsed = if let Some(hex) = value.strip_prefix("0x") {
        u8::from_str_radix(hex, 16)
    } else if let Some(binary) = value.strip_prefix("0b") {
        u8::from_str_radix(binary, 2)
    } else {
        value.parse()
    };
    match parsed {
        Ok(number) if number <= max => Ok(number),
        _ => Err(format!(
            "{key}={value} is not a number from 0 to {max} (decimal, 0x… or 0b…)"
        )),
    }
}

/// Hex digits, whitespace ignored: `de ad be ef`, `deadbeef`.
fn hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u32> = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_digit(16).ok_or(format!("{c:?} is not a hex digit")))
        .collect::<Result<_, _>>()?;
    if !digits.len().is_multiple_of(2) {
        return Err(format!(
            "hex needs two digits per byte; {text:?} has an odd number"
        ));
    }
    Ok(digits
        .chunks(2)
        .map(|pair| (pair[0] * 16 + pair[1]) as u8)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_are_text_with_or_without_slash() {
        assert_eq!(parse("/ping", false), Ok(Message::text("/ping")));
        assert_eq!(parse("hello", true), Ok(Message::text("hello")));
        assert_eq!(parse("//ping x", true), Ok(Message::text("/ping x")));
    }

    #[test]
    fn commands() {
        assert_eq!(
            parse("/ping are you there", true),
            Ok(Message::Ping(b"are you there"[..].into()))
        );
        assert_eq!(parse("/pong", true), Ok(Message::Pong(b""[..].into())));
        assert_eq!(
            parse("/binary de ad BE ef", true),
            Ok(Message::binary(vec![0xde, 0xad, 0xbe, 0xef]))
        );
        assert_eq!(
            parse("/close", true),
            Ok(Message::Close(Some(CloseFrame::new(CloseCode::Normal, ""))))
        );
        assert_eq!(
            parse("/close 4000 going home now", true),
            Ok(Message::Close(Some(CloseFrame::new(
                CloseCode::Other(4000),
                "going home now"
            ))))
        );
        let frame = Frame::new(OpCode::Reserved(3), vec![1, 2])
            .with_fin(false)
            .with_rsv(0b100);
        assert_eq!(
            parse("/frame opcode=0x3 fin=0 rsv=0b100 hex=0102", true),
            Ok(Message::Frame(frame))
        );
        assert_eq!(
            parse("/frame opcode=1 text=two words", true),
            Ok(Message::Frame(Frame::new(OpCode::Text, &b"two words"[..])))
        );
    }

    #[test]
    fn mistakes_are_explained() {
        for (line, expected) in [
            ("/nope", "unknown command /nope"),
            ("/binary abc", "odd number"),
            ("/binary zz", "not a hex digit"),
            ("/close 1005", "/frame opcode=0x8 hex=03ed"),
            ("/close abc", "numeric code"),
            ("/frame fin=1", "needs opcode"),
            ("/frame opcode=16", "from 0 to 15"),
            ("/frame opcode=1 rsv=8", "from 0 to 7"),
            ("/frame opcode=1 mask=1", "not mask="),
            ("/frame opcode", "key=value"),
        ] {
            let err = parse(line, true).unwrap_err();
            assert!(err.contains(expected), "{line}: {err}");
        }
        assert!(parse(&format!("/ping {}", "x".repeat(126)), true).is_err());
    }
}
