//! RFC 7692 (permessage-deflate), grouped by section: negotiation tables (sections 5 and 7.1),
//! the framing rules for RSV1 (section 6), the byte examples of section 7.2.3, and the limits a
//! compressed message must respect (size while inflating, UTF-8 of the inflated text, corrupt
//! data).

#![allow(clippy::unwrap_used)] // In tests, a failed unwrap is a failed assertion.

use flate2::{Compress, Compression, FlushCompress};
use sockeye_proto::extensions::deflate::{
    check_response, DeflateConfig, DeflateProblem, PerMessageDeflate,
};
use sockeye_proto::extensions::ExtensionOffer;
use sockeye_proto::frame::RSV1;
use sockeye_proto::handshake::server::{accept_response, negotiate_deflate, parse_request};
use sockeye_proto::handshake::{Accept, ClientHandshake, ClientRequest, HandshakeError};
use sockeye_proto::{CloseCode, Config, Connection, Message, OpCode, ProtocolError, Role};
use sockeye_test::check::assert_fails_with;
use sockeye_test::deflate::deflate_message;
use sockeye_test::{feed, parse_frames, Chunking, Pair, RawFrame, SequentialMaskKeys, Side};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn elements(header: &str) -> Vec<ExtensionOffer> {
    ExtensionOffer::parse_list(header)
}

fn element(header: &str) -> ExtensionOffer {
    elements(header).remove(0)
}

/// A client connection receiving a server's compressed frames.
fn client_with(agreed: PerMessageDeflate) -> Connection {
    Connection::new(Role::Client, Config::default()).with_deflate(agreed, &DeflateConfig::default())
}

/// A server that compresses every message (no size threshold).
fn server_with(agreed: PerMessageDeflate) -> Connection {
    Connection::new(Role::Server, Config::default())
        .with_deflate(agreed, &DeflateConfig::default().min_size(0))
}

/// A pair that negotiated `agreed`; both sides compress every message.
fn pair_with(agreed: PerMessageDeflate, client: Config, server: Config) -> Pair {
    let every = DeflateConfig::default().min_size(0);
    Pair::from_connections(
        Connection::with_mask_keys(Role::Client, client, Box::new(SequentialMaskKeys::new()))
            .with_deflate(agreed, &every),
        Connection::new(Role::Server, server).with_deflate(agreed, &every),
    )
}

fn received(connection: &mut Connection, bytes: &[u8]) -> Vec<Message> {
    let result = feed(connection, bytes, &Chunking::Whole, false);
    assert_eq!(result.error(), None, "{:?}", result.events);
    result.messages()
}

// ---------------------------------------------------------------------------------------------
// Sections 5 and 7.1: negotiation
// ---------------------------------------------------------------------------------------------

mod negotiation {
    use super::*;

    #[test]
    fn client_offers_client_max_window_bits_by_default() {
        assert_eq!(
            DeflateConfig::default().offer().to_string(),
            "permessage-deflate; client_max_window_bits"
        );
        let every = DeflateConfig::default()
            .server_no_context_takeover(true)
            .client_no_context_takeover(true)
            .server_max_window_bits(Some(10))
            .client_max_window_bits(Some(9));
        assert_eq!(
            every.offer().to_string(),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=10; client_max_window_bits=9"
        );
        // Out-of-range settings are clamped to what RFC 7692 allows on the wire.
        let wide = DeflateConfig::default()
            .server_max_window_bits(Some(3))
            .client_max_window_bits(Some(20));
        assert_eq!(
            wide.offer().to_string(),
            "permessage-deflate; server_max_window_bits=8; client_max_window_bits=15"
        );
    }

    /// Offers (a whole `Sec-WebSocket-Extensions` value) × server configurations → the answer
    /// (or `None`: declined) and the parameters in force.
    #[test]
    fn server_answers_the_first_acceptable_offer() {
        let default = DeflateConfig::default();
        let server = DeflateConfig::server_default();
        let agreed = |snct, cnct, smwb, cmwb| PerMessageDeflate {
            server_no_context_takeover: snct,
            client_no_context_takeover: cnct,
            server_max_window_bits: smwb,
            client_max_window_bits: cmwb,
        };
        type Case<'a> = (
            &'a str,
            &'a DeflateConfig,
            Option<(&'a str, PerMessageDeflate)>,
        );
        let cases: Vec<Case> = vec![
            (
                "permessage-deflate",
                &default,
                Some(("permessage-deflate", PerMessageDeflate::default())),
            ),
            (
                "permessage-deflate; client_max_window_bits",
                &default,
                Some(("permessage-deflate", PerMessageDeflate::default())),
            ),
            (
                "permessage-deflate; client_max_window_bits",
                &server,
                Some((
                    "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
                    agreed(false, false, 12, 12),
                )),
            ),
            // 7.1.2.2: no client_max_window_bits in the answer unless offered.
            (
                "permessage-deflate",
                &server,
                Some((
                    "permessage-deflate; server_max_window_bits=12",
                    agreed(false, false, 12, 15),
                )),
            ),
            // 7.1.2.1: the offered limit, or a smaller one.
            (
                "permessage-deflate; server_max_window_bits=10",
                &server,
                Some((
                    "permessage-deflate; server_max_window_bits=10",
                    agreed(false, false, 10, 15),
                )),
            ),
            (
                "permessage-deflate; server_max_window_bits=14",
                &server,
                Some((
                    "permessage-deflate; server_max_window_bits=12",
                    agreed(false, false, 12, 15),
                )),
            ),
            (
                "permessage-deflate; server_max_window_bits=9",
                &default,
                Some((
                    "permessage-deflate; server_max_window_bits=9",
                    agreed(false, false, 9, 15),
                )),
            ),
            // 7.1.2.2: the client's own limit is echoed, or the server's smaller one.
            (
                "permessage-deflate; client_max_window_bits=9",
                &server,
                Some((
                    "permessage-deflate; server_max_window_bits=12; client_max_window_bits=9",
                    agreed(false, false, 12, 9),
                )),
            ),
            (
                "permessage-deflate; client_max_window_bits=10",
                &default,
                Some((
                    "permessage-deflate; client_max_window_bits=10",
                    agreed(false, false, 15, 10),
                )),
            ),
            // 7.1.1: context takeover parameters are answered.
            (
                "permessage-deflate; server_no_context_takeover",
                &default,
                Some((
                    "permessage-deflate; server_no_context_takeover",
                    agreed(true, false, 15, 15),
                )),
            ),
            (
                "permessage-deflate; client_no_context_takeover",
                &default,
                Some((
                    "permessage-deflate; client_no_context_takeover",
                    agreed(false, true, 15, 15),
                )),
            ),
            // Quoted values are values (RFC 6455 section 9.1).
            (
                "permessage-deflate; server_max_window_bits=\"11\"",
                &default,
                Some((
                    "permessage-deflate; server_max_window_bits=11",
                    agreed(false, false, 11, 15),
                )),
            ),
            // Other extensions are not this one's business.
            (
                "x-webkit-deflate-frame, permessage-deflate",
                &default,
                Some(("permessage-deflate", PerMessageDeflate::default())),
            ),
            // RFC 7692 section 7.1.3's example of a fallback offer: the first one is acceptable.
            (
                "permessage-deflate; client_max_window_bits; server_max_window_bits=10, \
                 permessage-deflate; client_max_window_bits",
                &default,
                Some((
                    "permessage-deflate; server_max_window_bits=10",
                    agreed(false, false, 10, 15),
                )),
            ),
            // An 8-bit server window cannot be compressed with: declined, the fallback taken.
            (
                "permessage-deflate; server_max_window_bits=8",
                &default,
                None,
            ),
            (
                "permessage-deflate; server_max_window_bits=8, permessage-deflate",
                &server,
                Some((
                    "permessage-deflate; server_max_window_bits=12",
                    agreed(false, false, 12, 15),
                )),
            ),
            // An 8-bit client window is fine: the server inflates with a larger one.
            (
                "permessage-deflate; client_max_window_bits=8",
                &default,
                Some((
                    "permessage-deflate; client_max_window_bits=8",
                    agreed(false, false, 15, 8),
                )),
            ),
            // Section 5: unknown parameters, invalid values and duplicates are declined.
            ("permessage-deflate; foo", &default, None),
            (
                "permessage-deflate; server_max_window_bits=16",
                &default,
                None,
            ),
            (
                "permessage-deflate; server_max_window_bits=7",
                &default,
                None,
            ),
            (
                "permessage-deflate; server_max_window_bits=010",
                &default,
                None,
            ),
            ("permessage-deflate; server_max_window_bits", &default, None),
            (
                "permessage-deflate; client_max_window_bits=0",
                &default,
                None,
            ),
            (
                "permessage-deflate; client_max_window_bits=abc",
                &default,
                None,
            ),
            (
                "permessage-deflate; server_no_context_takeover=1",
                &default,
                None,
            ),
            (
                "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
                &default,
                None,
            ),
            (
                "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
                &default,
                None,
            ),
            ("x-other", &default, None),
            // A declined offer falls through to the next one.
            (
                "permessage-deflate; foo, permessage-deflate; client_no_context_takeover",
                &default,
                Some((
                    "permessage-deflate; client_no_context_takeover",
                    agreed(false, true, 15, 15),
                )),
            ),
        ];
        for (offers, config, expected) in cases {
            let chosen = config
                .accept(&elements(offers))
                .map(|(answer, agreed)| (answer.to_string(), agreed));
            let expected = expected.map(|(answer, agreed)| (answer.to_string(), agreed));
            assert_eq!(chosen, expected, "offers {offers:?}, config {config:?}");
        }
    }

    #[test]
    fn server_configuration_can_add_parameters_the_client_did_not_offer() {
        let config = DeflateConfig::default()
            .server_no_context_takeover(true)
            .client_no_context_takeover(true)
            .server_max_window_bits(Some(10));
        let (answer, agreed) = config.accept(&elements("permessage-deflate")).unwrap();
        assert_eq!(
            answer.to_string(),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=10"
        );
        // Every answer a server gives is one a client accepts.
        assert_eq!(
            check_response(&elements("permessage-deflate"), &answer),
            Ok(agreed)
        );
    }

    #[test]
    fn declines_say_why() {
        let config = DeflateConfig::default();
        let problem = |offer: &str| config.accept_offer(&element(offer)).unwrap_err();
        assert_eq!(
            problem("permessage-deflate; foo=1"),
            DeflateProblem::UnknownParameter("foo".into())
        );
        assert_eq!(
            problem("permessage-deflate; server_max_window_bits=8"),
            DeflateProblem::UnsupportedWindow { bits: 8 }
        );
        assert!(matches!(
            problem("permessage-deflate; server_max_window_bits=15; server_max_window_bits=15"),
            DeflateProblem::DuplicateParameter("server_max_window_bits")
        ));
        assert!(matches!(
            problem("permessage-deflate; client_no_context_takeover=x"),
            DeflateProblem::InvalidValue {
                parameter: "client_no_context_takeover",
                ..
            }
        ));
    }

    /// Offer × response → the parameters in force, or why the client must fail the handshake.
    #[test]
    fn client_checks_the_response_against_its_offer() {
        let ok = |snct, cnct, smwb, cmwb| {
            Ok(PerMessageDeflate {
                server_no_context_takeover: snct,
                client_no_context_takeover: cnct,
                server_max_window_bits: smwb,
                client_max_window_bits: cmwb,
            })
        };
        let default_offer = "permessage-deflate; client_max_window_bits";
        let cases: Vec<(&str, &str, Result<PerMessageDeflate, DeflateProblem>)> = vec![
            (
                default_offer,
                "permessage-deflate",
                ok(false, false, 15, 15),
            ),
            (
                default_offer,
                "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
                ok(false, false, 12, 12),
            ),
            // 7.1.1.1 / 7.1.1.2: the server may add either context takeover parameter.
            (
                default_offer,
                "permessage-deflate; server_no_context_takeover",
                ok(true, false, 15, 15),
            ),
            (
                default_offer,
                "permessage-deflate; client_no_context_takeover",
                ok(false, true, 15, 15),
            ),
            // 7.1.2.1: a server_max_window_bits the client did not offer is allowed.
            (
                default_offer,
                "permessage-deflate; server_max_window_bits=8",
                ok(false, false, 8, 15),
            ),
            // 7.1.2.2: an 8-bit client window is accepted (the client then sends uncompressed).
            (
                default_offer,
                "permessage-deflate; client_max_window_bits=8",
                ok(false, false, 15, 8),
            ),
            (
                default_offer,
                "permessage-deflate; client_max_window_bits",
                Err(DeflateProblem::InvalidValue {
                    parameter: "client_max_window_bits",
                    value: None,
                }),
            ),
            (
                "permessage-deflate",
                "permessage-deflate; client_max_window_bits=10",
                Err(DeflateProblem::ClientMaxWindowBitsNotOffered { answered: 10 }),
            ),
            (
                "permessage-deflate; client_max_window_bits=10",
                "permessage-deflate; client_max_window_bits=12",
                Err(DeflateProblem::ClientMaxWindowBitsRaised {
                    offered: 10,
                    answered: 12,
                }),
            ),
            // The client keeps to the limit it offered when the server says nothing.
            (
                "permessage-deflate; client_max_window_bits=10",
                "permessage-deflate",
                ok(false, false, 15, 10),
            ),
            (
                "permessage-deflate; client_max_window_bits=10",
                "permessage-deflate; client_max_window_bits=9",
                ok(false, false, 15, 9),
            ),
            (
                "permessage-deflate; server_max_window_bits=10",
                "permessage-deflate",
                Err(DeflateProblem::ServerMaxWindowBitsDropped { offered: 10 }),
            ),
            (
                "permessage-deflate; server_max_window_bits=10",
                "permessage-deflate; server_max_window_bits=11",
                Err(DeflateProblem::ServerMaxWindowBitsRaised {
                    offered: 10,
                    answered: 11,
                }),
            ),
            (
                "permessage-deflate; server_max_window_bits=10",
                "permessage-deflate; server_max_window_bits=9",
                ok(false, false, 9, 15),
            ),
            (
                "permessage-deflate; server_no_context_takeover",
                "permessage-deflate",
                Err(DeflateProblem::ServerNoContextTakeoverDropped),
            ),
            // The client's own hint holds whatever the server answers.
            (
                "permessage-deflate; client_no_context_takeover",
                "permessage-deflate",
                ok(false, true, 15, 15),
            ),
            (
                default_offer,
                "permessage-deflate; foo",
                Err(DeflateProblem::UnknownParameter("foo".into())),
            ),
            (
                default_offer,
                "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
                Err(DeflateProblem::DuplicateParameter(
                    "server_no_context_takeover",
                )),
            ),
            (
                default_offer,
                "permessage-deflate; server_max_window_bits=1a",
                Err(DeflateProblem::InvalidValue {
                    parameter: "server_max_window_bits",
                    value: Some("1a".into()),
                }),
            ),
            // With fallback offers, the response may answer any of them.
            (
                "permessage-deflate; server_max_window_bits=10, permessage-deflate",
                "permessage-deflate",
                ok(false, false, 15, 15),
            ),
        ];
        for (offers, response, expected) in cases {
            assert_eq!(
                check_response(&elements(offers), &element(response)),
                expected,
                "offer {offers:?}, response {response:?}"
            );
        }
    }

    fn handshake(offer: Option<&str>) -> ClientHandshake {
        let mut request = ClientRequest::new("example.com", "/");
        if let Some(offer) = offer {
            request = request.extension(offer);
        }
        ClientHandshake::with_nonce(request, *b"the sample nonce").unwrap()
    }

    fn response(extensions: &str) -> bytes::BytesMut {
        bytes::BytesMut::from(
            format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n{extensions}\r\n"
            )
            .as_bytes(),
        )
    }

    #[test]
    fn client_handshake_fails_on_an_invalid_answer() {
        let offer = Some("permessage-deflate; client_max_window_bits");
        let accepted = handshake(offer)
            .receive(&mut response(
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10\r\n",
            ))
            .unwrap()
            .unwrap();
        assert_eq!(accepted.deflate.map(|d| d.client_max_window_bits), Some(10));
        let none = handshake(offer)
            .receive(&mut response(""))
            .unwrap()
            .unwrap();
        assert_eq!(none.deflate, None);

        let err = handshake(offer)
            .receive(&mut response(
                "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=99\r\n",
            ))
            .unwrap_err();
        assert!(
            matches!(
                &err,
                HandshakeError::DeflateResponse {
                    problem: DeflateProblem::InvalidValue { .. },
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("server_max_window_bits"), "{err}");
        // Accepted twice, in one header or in two.
        for twice in [
            "Sec-WebSocket-Extensions: permessage-deflate, permessage-deflate\r\n",
            "Sec-WebSocket-Extensions: permessage-deflate\r\nSec-WebSocket-Extensions: permessage-deflate\r\n",
        ] {
            let err = handshake(offer).receive(&mut response(twice)).unwrap_err();
            assert!(
                matches!(&err, HandshakeError::DeflateResponse { problem: DeflateProblem::AcceptedTwice, .. }),
                "{err:?}"
            );
        }
        // Not offered at all: the RFC 6455 rule.
        let err = handshake(None)
            .receive(&mut response(
                "Sec-WebSocket-Extensions: permessage-deflate\r\n",
            ))
            .unwrap_err();
        assert!(
            matches!(err, HandshakeError::UnexpectedExtension { .. }),
            "{err:?}"
        );
    }

    fn request(extensions: &str) -> sockeye_proto::handshake::Request {
        let head = format!(
            "GET / HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extensions}\r\n"
        );
        parse_request(&mut bytes::BytesMut::from(head.as_bytes()), 16 * 1024)
            .unwrap()
            .unwrap()
    }

    #[test]
    fn server_handshake_adds_the_answer_to_the_response() {
        let request = request(
            "Sec-WebSocket-Extensions: x-other, permessage-deflate; client_max_window_bits\r\n",
        );
        let server = DeflateConfig::server_default();
        let mut accept = Accept::default();
        let agreed = negotiate_deflate(&request, &mut accept, Some(&server))
            .unwrap()
            .unwrap();
        assert_eq!(
            (agreed.server_max_window_bits, agreed.client_max_window_bits),
            (12, 12)
        );
        let text = String::from_utf8(accept_response(&request, &accept).unwrap()).unwrap();
        assert!(
            text.contains(
                "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12; client_max_window_bits=12\r\n"
            ),
            "{text}"
        );
        // Compression off: nothing is answered.
        let mut accept = Accept::default();
        assert_eq!(negotiate_deflate(&request, &mut accept, None), Ok(None));
        assert_eq!(accept.extensions, None);
        // No offer: nothing is answered.
        let plain = self::request("");
        let mut accept = Accept::default();
        assert_eq!(
            negotiate_deflate(&plain, &mut accept, Some(&server)),
            Ok(None)
        );
        assert_eq!(accept.extensions, None);
    }

    #[test]
    fn an_answer_written_by_the_accept_hook_is_checked_and_used() {
        let request = request("Sec-WebSocket-Extensions: permessage-deflate\r\n");
        let mut accept = Accept::default();
        accept.extensions = Some("permessage-deflate; server_no_context_takeover".into());
        let agreed = negotiate_deflate(&request, &mut accept, Some(&DeflateConfig::default()))
            .unwrap()
            .unwrap();
        assert!(agreed.server_no_context_takeover);
        assert_eq!(
            accept.extensions.as_deref(),
            Some("permessage-deflate; server_no_context_takeover"),
            "the hook's answer is kept as written"
        );
        let mut accept = Accept::default();
        accept.extensions = Some("permessage-deflate; client_max_window_bits=9".into());
        assert!(matches!(
            negotiate_deflate(&request, &mut accept, None),
            Err(HandshakeError::DeflateResponse {
                problem: DeflateProblem::ClientMaxWindowBitsNotOffered { answered: 9 },
                ..
            })
        ));
        // Another extension chosen by the hook stays; permessage-deflate is added after it.
        let mut accept = Accept::default();
        accept.extensions = Some("x-other".into());
        negotiate_deflate(&request, &mut accept, Some(&DeflateConfig::default())).unwrap();
        assert_eq!(
            accept.extensions.as_deref(),
            Some("x-other, permessage-deflate")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Section 6: RSV1 marks the first frame of a compressed message, nothing else
// ---------------------------------------------------------------------------------------------

mod section_6_rsv1 {
    use super::*;

    fn negotiated_pair() -> Pair {
        pair_with(
            PerMessageDeflate::default(),
            Config::default(),
            Config::default(),
        )
    }

    #[test]
    fn rsv1_without_the_extension_is_a_protocol_error() {
        let mut pair = Pair::new();
        let bad = RawFrame::text(deflate_message(b"Hello"))
            .rsv(0b100)
            .encode_for(Side::Server);
        assert_fails_with(
            &mut pair,
            Side::Server,
            &bad,
            ProtocolError::ReservedBitsSet { bits: 0b100 },
        );
    }

    #[test]
    fn rsv1_on_a_control_frame_is_a_protocol_error() {
        for frame in [
            RawFrame::ping("x"),
            RawFrame::pong("x"),
            RawFrame::close(1000, ""),
        ] {
            let mut pair = negotiated_pair();
            let bad = frame.rsv(0b100).encode_for(Side::Server);
            assert_fails_with(
                &mut pair,
                Side::Server,
                &bad,
                ProtocolError::CompressedControlFrame,
            );
            assert_eq!(
                ProtocolError::CompressedControlFrame.close_code(),
                CloseCode::ProtocolError
            );
        }
    }

    #[test]
    fn rsv1_on_a_continuation_frame_is_a_protocol_error() {
        let data = deflate_message(b"Hello, fragments");
        let (first, rest) = data.split_at(4);
        for first_rsv in [0b100, 0] {
            let mut pair = negotiated_pair();
            pair.inject(
                Side::Server,
                &RawFrame::binary(first)
                    .fin(false)
                    .rsv(first_rsv)
                    .encode_for(Side::Server),
            );
            let bad = RawFrame::continuation(rest)
                .rsv(0b100)
                .encode_for(Side::Server);
            assert_fails_with(
                &mut pair,
                Side::Server,
                &bad,
                ProtocolError::CompressedContinuationFrame,
            );
        }
    }

    #[test]
    fn rsv2_and_rsv3_stay_reserved() {
        for bits in [0b010, 0b001, 0b110, 0b111] {
            let mut pair = negotiated_pair();
            let bad = RawFrame::text("x").rsv(bits).encode_for(Side::Server);
            assert_fails_with(
                &mut pair,
                Side::Server,
                &bad,
                ProtocolError::ReservedBitsSet { bits },
            );
        }
    }

    #[test]
    fn uncompressed_messages_mix_with_compressed_ones() {
        let mut pair = negotiated_pair();
        let mut stream = Vec::new();
        stream.extend(RawFrame::text("plain").encode_for(Side::Server));
        stream.extend(
            RawFrame::text(deflate_message(b"packed"))
                .rsv(0b100)
                .encode_for(Side::Server),
        );
        // A fragmented uncompressed message, with a compressed one after it.
        stream.extend(RawFrame::binary("ab").fin(false).encode_for(Side::Server));
        stream.extend(RawFrame::continuation("cd").encode_for(Side::Server));
        stream.extend(
            RawFrame::binary(deflate_message(b"\x00\x01"))
                .rsv(0b100)
                .encode_for(Side::Server),
        );
        pair.inject(Side::Server, &stream);
        assert_eq!(
            pair.server.messages(),
            [
                Message::text("plain"),
                Message::text("packed"),
                Message::binary(&b"abcd"[..]),
                Message::binary(&b"\x00\x01"[..]),
            ]
        );
        assert_eq!(pair.server.error(), None);
    }

    #[test]
    fn control_frames_may_interleave_a_compressed_message() {
        let mut pair = negotiated_pair();
        let data = deflate_message("fragmented and compressed".as_bytes());
        let (a, b) = data.split_at(data.len() / 2);
        let mut stream = RawFrame::text(a)
            .fin(false)
            .rsv(0b100)
            .encode_for(Side::Server);
        stream.extend(RawFrame::ping("mid").encode_for(Side::Server));
        stream.extend(RawFrame::continuation(b).encode_for(Side::Server));
        pair.inject(Side::Server, &stream);
        assert_eq!(
            pair.server.messages(),
            [
                Message::Ping("mid".into()),
                Message::text("fragmented and compressed")
            ]
        );
    }

    #[test]
    fn only_the_first_frame_of_a_sent_message_has_rsv1() {
        let mut pair = negotiated_pair();
        let server = &mut pair.server.connection;
        server.send_first_fragment(true, b"one, ").unwrap();
        server.send_ping(b"between").unwrap();
        server.send_continuation(b"two, ", false).unwrap();
        server.send_continuation(b"three", true).unwrap();
        pair.exchange();
        let frames = pair.server.sent_frames();
        let bits: Vec<(OpCode, u8)> = frames
            .iter()
            .map(|frame| (frame.opcode(), frame.header.rsv))
            .collect();
        assert_eq!(
            bits,
            [
                (OpCode::Text, RSV1),
                (OpCode::Ping, 0),
                (OpCode::Continuation, 0),
                (OpCode::Continuation, 0),
            ]
        );
        assert_eq!(
            pair.client.messages(),
            [
                Message::Ping("between".into()),
                Message::text("one, two, three")
            ]
        );
    }

    #[test]
    fn messages_below_the_threshold_go_out_uncompressed() {
        let agreed = PerMessageDeflate::default();
        let mut server = Connection::new(Role::Server, Config::default())
            .with_deflate(agreed, &DeflateConfig::default());
        server.send_text("short").unwrap();
        server.send_binary(&[7; 32]).unwrap();
        let frames = parse_frames(server.pending_output());
        assert_eq!(
            frames[0].header.rsv, 0,
            "5 bytes: below the 32-byte default"
        );
        assert_eq!(frames[0].payload, "short");
        assert_eq!(frames[1].header.rsv, RSV1, "32 bytes: compressed");
        let mut client = client_with(agreed);
        assert_eq!(
            received(&mut client, server.pending_output()),
            [Message::text("short"), Message::binary(vec![7; 32])]
        );
    }

    #[test]
    fn an_eight_bit_window_means_sending_uncompressed() {
        // zlib cannot compress with a 256-byte window: the client that must use at most
        // 8 bits sends every message uncompressed, and still inflates what it receives.
        let agreed = PerMessageDeflate {
            client_max_window_bits: 8,
            server_max_window_bits: 8,
            ..PerMessageDeflate::default()
        };
        let mut pair = pair_with(agreed, Config::default(), Config::default());
        let text = "eight bits ".repeat(50);
        pair.client.connection.send_text(&text).unwrap();
        pair.exchange();
        assert_eq!(pair.client.sent_frames()[0].header.rsv, 0);
        assert_eq!(pair.server.messages(), [Message::text(text.clone())]);
        // Compressed data made with a 9-bit window (what zlib makes when asked for 8) inflates.
        let mut client = client_with(agreed);
        let mut compress = Compress::new_with_window_bits(Compression::default(), false, 9);
        let mut data = Vec::with_capacity(4096);
        compress
            .compress_vec(text.as_bytes(), &mut data, FlushCompress::Sync)
            .unwrap();
        data.truncate(data.len() - 4);
        let frame = RawFrame::text(data).rsv(0b100).encode_for(Side::Client);
        assert_eq!(received(&mut client, &frame), [Message::text(text)]);
    }
}

// ---------------------------------------------------------------------------------------------
// Section 7.2.3: the examples, byte for byte
// ---------------------------------------------------------------------------------------------

mod section_7_2_3_examples {
    use super::*;

    /// 7.2.3.1: "Hello" in one compressed DEFLATE block.
    const HELLO: [u8; 9] = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

    #[test]
    fn s7_2_3_1_one_compressed_block() {
        let mut client = client_with(PerMessageDeflate::default());
        assert_eq!(received(&mut client, &HELLO), [Message::text("Hello")]);
        let mut server = server_with(PerMessageDeflate::default());
        server.send_text("Hello").unwrap();
        assert_eq!(server.pending_output(), HELLO);
    }

    #[test]
    fn s7_2_3_1_fragmented() {
        let frames = [
            0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00,
        ];
        for chunking in [Chunking::Whole, Chunking::Fixed(1), Chunking::Fixed(4)] {
            let mut client = client_with(PerMessageDeflate::default());
            let result = feed(&mut client, &frames, &chunking, false);
            assert_eq!(result.messages(), [Message::text("Hello")], "{chunking:?}");
        }
        // Frame by frame, each frame arrives inflated, RSV1 cleared.
        let mut config = Config::default();
        config.assemble_messages = false;
        let mut client = Connection::new(Role::Client, config)
            .with_deflate(PerMessageDeflate::default(), &DeflateConfig::default());
        let messages = received(&mut client, &frames);
        let frames: Vec<(OpCode, bool, u8, Vec<u8>)> = messages
            .iter()
            .map(|message| match message {
                Message::Frame(frame) => (
                    frame.opcode(),
                    frame.is_final(),
                    frame.header.rsv,
                    frame.payload.to_vec(),
                ),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            frames,
            [
                (OpCode::Text, false, 0, b"He".to_vec()),
                (OpCode::Continuation, true, 0, b"llo".to_vec()),
            ]
        );
    }

    const HELLO_AGAIN: [u8; 7] = [0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00];

    #[test]
    fn s7_2_3_2_sharing_the_window() {
        let mut client = client_with(PerMessageDeflate::default());
        let mut both = HELLO.to_vec();
        both.extend_from_slice(&HELLO_AGAIN);
        assert_eq!(
            received(&mut client, &both),
            [Message::text("Hello"), Message::text("Hello")]
        );
        let mut server = server_with(PerMessageDeflate::default());
        server.send_text("Hello").unwrap();
        server.send_text("Hello").unwrap();
        assert_eq!(server.pending_output(), both);
    }

    #[test]
    fn s7_2_3_2_without_context_takeover() {
        let agreed = PerMessageDeflate {
            server_no_context_takeover: true,
            ..PerMessageDeflate::default()
        };
        // The sender starts every message afresh: the same bytes twice.
        let mut server = server_with(agreed);
        server.send_text("Hello").unwrap();
        server.send_text("Hello").unwrap();
        assert_eq!(server.pending_output(), [HELLO, HELLO].concat());
        let mut client = client_with(agreed);
        assert_eq!(
            received(&mut client, &[HELLO, HELLO].concat()),
            [Message::text("Hello"), Message::text("Hello")]
        );
        // ... and the receiver too: a back-reference into the previous message is corrupt data.
        let mut client = client_with(agreed);
        let result = feed(
            &mut client,
            &[&HELLO[..], &HELLO_AGAIN[..]].concat(),
            &Chunking::Whole,
            false,
        );
        assert_eq!(result.messages(), [Message::text("Hello")]);
        let error = result.error().unwrap();
        assert!(
            matches!(
                error,
                ProtocolError::Extension {
                    extension: "permessage-deflate",
                    ..
                }
            ),
            "{error:?}"
        );
        assert_eq!(error.close_code(), CloseCode::InvalidPayload);
    }

    #[test]
    fn s7_2_3_3_a_block_with_no_compression() {
        let frame = [
            0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ];
        let mut client = client_with(PerMessageDeflate::default());
        assert_eq!(received(&mut client, &frame), [Message::text("Hello")]);
        // Level 0 stores: the same block.
        let mut server = Connection::new(Role::Server, Config::default()).with_deflate(
            PerMessageDeflate::default(),
            &DeflateConfig::default().min_size(0).level(0),
        );
        server.send_text("Hello").unwrap();
        assert_eq!(server.pending_output(), frame);
    }

    #[test]
    fn s7_2_3_4_a_block_with_bfinal_set() {
        let frame = [0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
        let mut client = client_with(PerMessageDeflate::default());
        assert_eq!(received(&mut client, &frame), [Message::text("Hello")]);
        // The stream ended; the sender's next message starts a new one.
        assert_eq!(received(&mut client, &frame), [Message::text("Hello")]);
        assert_eq!(received(&mut client, &HELLO), [Message::text("Hello")]);
    }

    #[test]
    fn s7_2_3_5_two_deflate_blocks_in_one_message() {
        let frame = [
            0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07,
            0x00,
        ];
        let mut client = client_with(PerMessageDeflate::default());
        assert_eq!(received(&mut client, &frame), [Message::text("Hello")]);
        // What a fragmented send produces: each frame sync-flushed, the last tail removed.
        let mut server = server_with(PerMessageDeflate::default());
        server.send_first_fragment(true, b"He").unwrap();
        server.send_continuation(b"llo", true).unwrap();
        let frames = parse_frames(server.pending_output());
        let payload: Vec<u8> = frames.iter().flat_map(|f| f.payload.to_vec()).collect();
        assert_eq!(payload, frame[2..]);
    }

    #[test]
    fn s7_2_3_6_empty_messages() {
        // An empty stored block's header: the tail completes it.
        let mut client = client_with(PerMessageDeflate::default());
        assert_eq!(
            received(&mut client, &[0xc1, 0x01, 0x00]),
            [Message::text("")]
        );
        let mut server = server_with(PerMessageDeflate::default());
        server.send_text("").unwrap();
        server.send_text("Hello").unwrap();
        server.send_binary(b"").unwrap();
        let output = server.pending_output().to_vec();
        let frames = parse_frames(&output);
        assert_eq!(frames[0].payload, [0x00][..]);
        assert_eq!(frames[2].payload, [0x00][..], "also right after a flush");
        assert_eq!(
            received(&mut client, &output),
            [
                Message::text(""),
                Message::text("Hello"),
                Message::binary(&b""[..])
            ]
        );
        // A message cut into frames where the last one happens to be empty (Autobahn's
        // auto-fragmentation does this): the tail still completes the message's last block.
        let mut client = client_with(PerMessageDeflate::default());
        let data = deflate_message(b"Hello");
        let mut stream = RawFrame::text(&data).fin(false).rsv(0b100).to_bytes();
        stream.extend(RawFrame::continuation([]).to_bytes());
        stream.extend_from_slice(&HELLO_AGAIN);
        assert_eq!(
            received(&mut client, &stream),
            [Message::text("Hello"), Message::text("Hello")]
        );
        // Some zlib-based senders send no payload at all for an empty message; the stream
        // stays usable.
        let mut client = client_with(PerMessageDeflate::default());
        let mut stream = HELLO.to_vec();
        stream.extend_from_slice(&[0xc1, 0x00]);
        stream.extend_from_slice(&HELLO_AGAIN);
        assert_eq!(
            received(&mut client, &stream),
            [
                Message::text("Hello"),
                Message::text(""),
                Message::text("Hello")
            ]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Limits: the inflated size, the inflated text, corrupt data
// ---------------------------------------------------------------------------------------------

mod limits {
    use super::*;

    fn server_limited(max_message_size: usize) -> Connection {
        let mut config = Config::default();
        config.max_message_size = max_message_size;
        Connection::new(Role::Server, config)
            .with_deflate(PerMessageDeflate::default(), &DeflateConfig::default())
    }

    #[test]
    fn a_zip_bomb_fails_with_1009_without_being_inflated() {
        // 64 MiB of zeros compress to about 64 KiB: one modest frame.
        let limit = 1 << 20;
        let bomb = deflate_message(&vec![0u8; 64 << 20]);
        assert!(bomb.len() < 100 << 10, "{}", bomb.len());
        let frame = RawFrame::binary(&bomb).rsv(0b100).encode_for(Side::Server);
        let mut server = server_limited(limit);
        // Only the first tenth of the frame has arrived: that already inflates past the limit.
        let result = feed(
            &mut server,
            &frame[..frame.len() / 10],
            &Chunking::Whole,
            false,
        );
        let Some(ProtocolError::MessageTooLarge {
            size,
            limit: reported,
        }) = result.error()
        else {
            panic!("{:?}", result.events)
        };
        assert_eq!((*size, *reported), (limit as u64 + 1, limit));
        assert_eq!(
            parse_frames(&result.output)
                .last()
                .map(|f| u16::from_be_bytes([f.payload[0], f.payload[1]])),
            Some(1009)
        );
    }

    #[test]
    fn the_limit_counts_inflated_bytes_across_fragments() {
        let limit = 100_000;
        for (size, fits) in [(limit, true), (limit + 1, false)] {
            let data = deflate_message(&vec![b'a'; size]);
            let (a, b) = data.split_at(data.len() / 2);
            let mut stream = RawFrame::binary(a)
                .fin(false)
                .rsv(0b100)
                .encode_for(Side::Server);
            stream.extend(RawFrame::continuation(b).encode_for(Side::Server));
            let mut server = server_limited(limit);
            let result = feed(&mut server, &stream, &Chunking::Fixed(1000), false);
            if fits {
                assert_eq!(result.messages(), [Message::binary(vec![b'a'; size])]);
            } else {
                assert!(
                    matches!(result.error(), Some(ProtocolError::MessageTooLarge { .. })),
                    "{:?}",
                    result.events
                );
            }
        }
        // Frame by frame too.
        let mut config = Config::default();
        config.max_message_size = limit;
        config.assemble_messages = false;
        let mut server = Connection::new(Role::Server, config)
            .with_deflate(PerMessageDeflate::default(), &DeflateConfig::default());
        let data = deflate_message(&vec![b'a'; limit + 1]);
        let frame = RawFrame::binary(&data).rsv(0b100).encode_for(Side::Server);
        let result = feed(&mut server, &frame, &Chunking::Whole, false);
        assert!(matches!(
            result.error(),
            Some(ProtocolError::MessageTooLarge { .. })
        ));
    }

    #[test]
    fn corrupt_data_fails_with_1007() {
        let mut pair = pair_with(
            PerMessageDeflate::default(),
            Config::default(),
            Config::default(),
        );
        // 0xff: a block of the reserved type 11.
        let bad = RawFrame::text([0xff, 0xff, 0xff])
            .rsv(0b100)
            .encode_for(Side::Server);
        pair.inject(Side::Server, &bad);
        let error = pair.server.error().unwrap();
        assert!(
            matches!(
                &error,
                ProtocolError::Extension {
                    extension: "permessage-deflate",
                    ..
                }
            ),
            "{error:?}"
        );
        assert_eq!(error.close_code(), CloseCode::InvalidPayload);
        pair.run();
        assert_eq!(pair.server.sent_close_codes(), [Some(1007)]);
        // Corruption in a first fragment fails before the message ends.
        let mut pair = pair_with(
            PerMessageDeflate::default(),
            Config::default(),
            Config::default(),
        );
        let bad = RawFrame::binary([0xff, 0x00])
            .fin(false)
            .rsv(0b100)
            .encode_for(Side::Server);
        pair.inject(Side::Server, &bad);
        assert!(pair.server.error().is_some());
    }

    #[test]
    fn inflated_text_is_validated_as_it_is_produced() {
        // Invalid UTF-8 at inflated offset 3, in a frame of which only a part has arrived.
        let mut text = b"abc\xff".to_vec();
        text.extend(std::iter::repeat_n(b'x', 1 << 20));
        let data = deflate_message(&text);
        let frame = RawFrame::text(&data).rsv(0b100).encode_for(Side::Server);
        let mut server = server_limited(64 << 20);
        let result = feed(&mut server, &frame[..40], &Chunking::Whole, false);
        assert_eq!(
            result.error(),
            Some(&ProtocolError::InvalidUtf8 { offset: 3 })
        );
        assert_eq!(
            ProtocolError::InvalidUtf8 { offset: 3 }.close_code(),
            CloseCode::InvalidPayload
        );
        // A sequence split across fragments is fine; one cut off at the end is not.
        let euro = "€".as_bytes();
        let data = deflate_message(&[b"price: ", euro].concat());
        let (a, b) = data.split_at(3);
        let mut stream = RawFrame::text(a)
            .fin(false)
            .rsv(0b100)
            .encode_for(Side::Server);
        stream.extend(RawFrame::continuation(b).encode_for(Side::Server));
        let mut server = server_limited(1 << 20);
        assert_eq!(received(&mut server, &stream), [Message::text("price: €")]);
        let cut = deflate_message(&[b"price: ", &euro[..2]].concat());
        let mut server = server_limited(1 << 20);
        let frame = RawFrame::text(&cut).rsv(0b100).encode_for(Side::Server);
        let result = feed(&mut server, &frame, &Chunking::Whole, false);
        assert!(matches!(
            result.error(),
            Some(ProtocolError::InvalidUtf8 { offset: 7 })
        ));
    }

    #[test]
    fn unvalidated_text_is_delivered_with_replacement_characters() {
        let mut config = Config::default();
        config.validate_utf8 = false;
        let mut server = Connection::new(Role::Server, config)
            .with_deflate(PerMessageDeflate::default(), &DeflateConfig::default());
        let frame = RawFrame::text(deflate_message(b"a\xffb"))
            .rsv(0b100)
            .encode_for(Side::Server);
        assert_eq!(received(&mut server, &frame), [Message::text("a\u{fffd}b")]);
    }
}
