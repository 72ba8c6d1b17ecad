"""Deterministic message contents shared by the peer scripts and the Rust tests.

The Rust side (crates/sockeye/tests/common/mod.rs) builds the same bytes, so either side can
check a message byte for byte without sending a digest.
"""

# The sizes that cross every payload-length encoding of RFC 6455 section 5.2: 7-bit (0-125),
# 16-bit (126-65535), 64-bit (65536 and up), plus a 4 MiB message.
SIZES = [0, 1, 125, 126, 65535, 65536, 4 * 1024 * 1024]

_PERIOD = bytes((i * 31 + 7) % 251 for i in range(251))
# 1 + 2 + 3 + 4 bytes: every UTF-8 sequence length.
_TEXT_UNIT = "a\u00e9\u20ac\U0001f600"


def pattern_bytes(size):
    """`size` bytes: byte i is (i * 31 + 7) % 251."""
    return (_PERIOD * (size // len(_PERIOD) + 1))[:size]


def pattern_text(size):
    """A string of exactly `size` UTF-8 bytes: "aé€😀" repeated, then "x" padding."""
    return _TEXT_UNIT * (size // 10) + "x" * (size % 10)


def classify(message):
    """("text" | "binary", length in bytes, "ok" | "mismatch") against the patterns."""
    if isinstance(message, str):
        data = message.encode("utf-8")
        ok = message == pattern_text(len(data))
        return "text", len(data), "ok" if ok else "mismatch"
    data = bytes(message)
    return "binary", len(data), "ok" if data == pattern_bytes(len(data)) else "mismatch"
