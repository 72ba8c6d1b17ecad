//! SOCKS4 and SOCKS4a, SOCKS5 (RFC 1928) with username/password authentication (RFC 1929).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::{Buf, Bytes, BytesMut};

use super::{Destination, ProxyError, ProxyHandshake, ProxyProtocol, State, Tunnel};
use crate::handshake::{escape_preview, Headers};

impl ProxyHandshake {
    // -- SOCKS4 / SOCKS4a --------------------------------------------------------------------

    pub(super) fn socks4_request(&self) -> Result<Vec<u8>, ProxyError> {
        let user_id = self
            .credentials
            .as_ref()
            .map_or("", |c| c.username.as_str());
        if user_id.contains('\0') {
            return Err(ProxyError::UnsupportedCredentials {
                protocol: self.protocol,
                why: "a SOCKS4 user ID cannot contain NUL",
            });
        }
        let mut out = vec![4, 1];
        out.extend_from_slice(&self.destination.port().to_be_bytes());
        match &self.destination {
            Destination::Addr(SocketAddr::V4(addr)) => {
                out.extend_from_slice(&addr.ip().octets());
                out.extend_from_slice(user_id.as_bytes());
                out.push(0);
            }
            Destination::Addr(SocketAddr::V6(_)) => {
                return Err(self.unsupported_destination("SOCKS4 carries only IPv4 addresses"))
            }
            Destination::Name { host, .. } => {
                if host.is_empty() || host.contains('\0') {
                    return Err(self.unsupported_destination("the host name is empty or has NUL"));
                }
                // SOCKS4a: the address 0.0.0.x (x != 0) says "the name follows the user ID".
                out.extend_from_slice(&[0, 0, 0, 1]);
                out.extend_from_slice(user_id.as_bytes());
                out.push(0);
                out.extend_from_slice(host.as_bytes());
                out.push(0);
            }
        }
        Ok(out)
    }

    pub(super) fn receive_socks4(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<Tunnel>, ProxyError> {
        if buf.is_empty() {
            return Ok(None);
        }
        if buf[0] != 0 {
            return Err(ProxyError::WrongProtocol {
                expected: "a SOCKS4 reply (version byte 0)",
                preview: escape_preview(buf),
            });
        }
        if buf.len() >= 2 && buf[1] != 90 {
            return Err(ProxyError::Socks4Refused {
                destination: self.destination.to_string(),
                code: buf[1],
            });
        }
        if buf.len() < 8 {
            return Ok(None);
        }
        let reply = buf.split_to(8).freeze();
        let port = u16::from_be_bytes([reply[2], reply[3]]);
        let ip = Ipv4Addr::new(reply[4], reply[5], reply[6], reply[7]);
        let bound = (!ip.is_unspecified() || port != 0)
            .then(|| Destination::Addr(SocketAddr::new(IpAddr::V4(ip), port)));
        Ok(Some(self.socks_tunnel(bound, reply)))
    }

    // -- SOCKS5 ------------------------------------------------------------------------------

    pub(super) fn socks5_greeting(&self) -> Vec<u8> {
        if self.credentials.is_some() {
            vec![5, 2, 0x00, 0x02]
        } else {
            vec![5, 1, 0x00]
        }
    }

    pub(super) fn socks5_auth_request(&self) -> Result<Vec<u8>, ProxyError> {
        let Some(credentials) = &self.credentials else {
            return Ok(Vec::new());
        };
        let (user, pass) = (
            credentials.username.as_bytes(),
            credentials.password.as_bytes(),
        );
        if user.is_empty() || user.len() > 255 || pass.len() > 255 {
            return Err(ProxyError::UnsupportedCredentials {
                protocol: self.protocol,
                why: "RFC 1929 needs a user name of 1 to 255 bytes and a password of at most 255 bytes",
            });
        }
        let mut out = vec![1, user.len() as u8];
        out.extend_from_slice(user);
        out.push(pass.len() as u8);
        out.extend_from_slice(pass);
        Ok(out)
    }

    pub(super) fn socks5_request(&self) -> Result<Vec<u8>, ProxyError> {
        let mut out = vec![5, 1, 0];
        match &self.destination {
            Destination::Addr(SocketAddr::V4(addr)) => {
                out.push(1);
                out.extend_from_slice(&addr.ip().octets());
            }
            Destination::Addr(SocketAddr::V6(addr)) => {
                out.push(4);
                out.extend_from_slice(&addr.ip().octets());
            }
            Destination::Name { host, .. } => {
                if host.is_empty() || host.len() > 255 {
                    return Err(self.unsupported_destination(
                        "a SOCKS5 host name must be 1 to 255 bytes long",
                    ));
                }
                out.push(3);
                out.push(host.len() as u8);
                out.extend_from_slice(host.as_bytes());
            }
        }
        out.extend_from_slice(&self.destination.port().to_be_bytes());
        Ok(out)
    }

    pub(super) fn receive_socks5_method(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<Tunnel>, ProxyError> {
        if buf.is_empty() {
            return Ok(None);
        }
        if buf[0] != 5 {
            return Err(ProxyError::WrongProtocol {
                expected: "SOCKS5",
                preview: escape_preview(buf),
            });
        }
        if buf.len() < 2 {
            return Ok(None);
        }
        let method = buf[1];
        buf.advance(2);
        let offered_password = self.credentials.is_some();
        match method {
            0x00 => {
                self.output = self.socks5_request()?;
                self.state = State::Socks5Reply;
            }
            0x02 if offered_password => {
                self.output = self.socks5_auth_request()?;
                self.state = State::Socks5Auth;
            }
            0xFF => return Err(ProxyError::NoAcceptableMethod { offered_password }),
            method => {
                return Err(ProxyError::UnexpectedMethod {
                    method,
                    offered_password,
                })
            }
        }
        Ok(None)
    }

    pub(super) fn receive_socks5_auth(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<Tunnel>, ProxyError> {
        if buf.len() < 2 {
            return Ok(None);
        }
        // RFC 1929 says version 1; some servers answer 5. Only the status matters.
        if !matches!(buf[0], 1 | 5) {
            return Err(ProxyError::MalformedReply {
                protocol: self.protocol,
                why: "the username/password reply's version is neither 1 (RFC 1929) nor 5",
                preview: escape_preview(&buf[..2]),
            });
        }
        let status = buf[1];
        buf.advance(2);
        if status != 0 {
            return Err(ProxyError::AuthenticationFailed { status });
        }
        self.output = self.socks5_request()?;
        self.state = State::Socks5Reply;
        Ok(None)
    }

    pub(super) fn receive_socks5_reply(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<Tunnel>, ProxyError> {
        if buf.is_empty() {
            return Ok(None);
        }
        if buf[0] != 5 {
            return Err(ProxyError::WrongProtocol {
                expected: "SOCKS5",
                preview: escape_preview(buf),
            });
        }
        if buf.len() >= 2 && buf[1] != 0 {
            return Err(ProxyError::Socks5Refused {
                destination: self.destination.to_string(),
                code: buf[1],
            });
        }
        if buf.len() < 5 {
            return Ok(None);
        }
        let malformed = |why| ProxyError::MalformedReply {
            protocol: ProxyProtocol::Socks5,
            why,
            preview: escape_preview(&buf[..buf.len().min(22)]),
        };
        if buf[2] != 0 {
            return Err(malformed("the reserved byte is not 0"));
        }
        if !matches!(buf[3], 1 | 3 | 4) {
            return Err(malformed("unknown address type (not 1, 3 or 4)"));
        }
        let len = socks5_reply_len(buf[3], Some(buf[4]));
        if buf.len() < len {
            return Ok(None);
        }
        let reply = buf.split_to(len).freeze();
        let port = u16::from_be_bytes([reply[len - 2], reply[len - 1]]);
        let bound = match reply[3] {
            1 => {
                let octets: [u8; 4] = reply[4..8].try_into().unwrap_or_default();
                Destination::Addr(SocketAddr::new(Ipv4Addr::from(octets).into(), port))
            }
            4 => {
                let octets: [u8; 16] = reply[4..20].try_into().unwrap_or_default();
                Destination::Addr(SocketAddr::new(Ipv6Addr::from(octets).into(), port))
            }
            _ => Destination::Name {
                host: String::from_utf8_lossy(&reply[5..len - 2]).into_owned(),
                port,
            },
        };
        Ok(Some(self.socks_tunnel(Some(bound), reply)))
    }

    // -- shared ------------------------------------------------------------------------------

    fn socks_tunnel(&self, bound: Option<Destination>, reply: Bytes) -> Tunnel {
        Tunnel {
            protocol: self.protocol,
            status: None,
            reason: None,
            headers: Headers::new(),
            bound,
            reply,
        }
    }
}

/// The length of a SOCKS5 reply with address type `atyp` (for type 3, the name's length byte).
pub(super) fn socks5_reply_len(atyp: u8, name_len: Option<u8>) -> usize {
    match atyp {
        1 => 4 + 4 + 2,
        4 => 4 + 16 + 2,
        3 => match name_len {
            Some(len) => 4 + 1 + usize::from(len) + 2,
            None => 5,
        },
        // Unknown: enough to see the type; `receive` rejects it.
        _ => 5,
    }
}
