"""A Python `websockets` (sync API) client with permessage-deflate, for interop_deflate.rs.

Usage: deflate_client.py URL SCENARIO [--server-no-context-takeover]
           [--client-no-context-takeover] [--server-max-window-bits N]
           [--client-max-window-bits N|none]

With no option it offers websockets' default (`permessage-deflate; client_max_window_bits`).
Any option replaces that with a ClientPerMessageDeflateFactory with exactly those parameters
(`--client-max-window-bits none` leaves that parameter out of the offer).

Prints tab-separated observations on stdout:

    open    OFFERED_EXTENSIONS|-  ACCEPTED_EXTENSIONS|-
    echo    text|binary  LENGTH  ok|mismatch
    closed  RCVD_CODE  RCVD_REASON  SENT_CODE  SENT_REASON   (- when absent)

Scenarios (the Rust side echoes):

    sizes       every size of patterns.SIZES as text then binary, each echo checked
    fragments   fragmented messages (see FRAGMENTED), each echo checked
    bulk        4 MiB of repetitive text and 1 MiB of repetitive binary, echoes checked
    repeat      the same 2 KiB text 50 times (context takeover pays off), echoes checked

Each ends with close 1000 "bye". Exits 1 (reason on stderr) when an echo differs.
"""

import argparse
import sys

from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.sync.client import connect

from patterns import SIZES, classify, pattern_bytes, pattern_text

TIMEOUT = 20
MAX_SIZE = 64 * 1024 * 1024

FRAGMENTED = [
    ["frag", "ment", "ed ", "caf\u00e9 \u20ac"],
    [b"\x00\x01", b"", b"\xff" * 40],
    [pattern_text(300_000)[i : i + 70_000] for i in range(0, 300_000, 70_000)],
    [pattern_bytes(300_000)[i : i + 70_000] for i in range(0, 300_000, 70_000)],
]
BULK_TEXT = "sockeye and permessage-deflate " * (4 * 1024 * 1024 // 31)
BULK_BINARY = bytes(range(256)) * (1024 * 1024 // 256)
REPEATED = ("{\"kind\": \"update\", \"value\": 42, \"tags\": [\"a\", \"b\"]} " * 40)[:2048]


def emit(*fields):
    print("\t".join(str(field) for field in fields), flush=True)


def fail(why):
    print(f"deflate_client: {why}", file=sys.stderr, flush=True)
    sys.exit(1)


def expect_echo(ws, sent):
    received = ws.recv(timeout=TIMEOUT)
    if type(received) is not type(sent) or received != sent:
        fail(f"echo of a {len(sent)}-unit {type(sent).__name__} message differs")
    kind = "text" if isinstance(received, str) else "binary"
    size = len(received.encode("utf-8")) if kind == "text" else len(received)
    emit("echo", kind, size, "ok")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("scenario")
    parser.add_argument("--server-no-context-takeover", action="store_true")
    parser.add_argument("--client-no-context-takeover", action="store_true")
    parser.add_argument("--server-max-window-bits", type=int)
    parser.add_argument("--client-max-window-bits")
    args = parser.parse_args()
    custom = (
        args.server_no_context_takeover
        or args.client_no_context_takeover
        or args.server_max_window_bits is not None
        or args.client_max_window_bits is not None
    )
    options = dict(compression="deflate")
    if custom:
        client_bits = args.client_max_window_bits
        client_bits = (
            True if client_bits is None else None if client_bits == "none" else int(client_bits)
        )
        options = dict(
            compression=None,
            extensions=[
                ClientPerMessageDeflateFactory(
                    server_no_context_takeover=args.server_no_context_takeover,
                    client_no_context_takeover=args.client_no_context_takeover,
                    server_max_window_bits=args.server_max_window_bits,
                    client_max_window_bits=client_bits,
                )
            ],
        )
    ws = connect(
        args.url,
        max_size=MAX_SIZE,
        open_timeout=TIMEOUT,
        close_timeout=TIMEOUT,
        ping_interval=None,
        **options,
    )
    emit(
        "open",
        ws.request.headers.get("Sec-WebSocket-Extensions") or "-",
        ws.response.headers.get("Sec-WebSocket-Extensions") or "-",
    )
    if args.scenario == "sizes":
        for size in SIZES:
            for message in (pattern_text(size), pattern_bytes(size)):
                ws.send(message)
                expect_echo(ws, message)
    elif args.scenario == "fragments":
        for fragments in FRAGMENTED:
            ws.send(fragments)
            whole = "".join(fragments) if isinstance(fragments[0], str) else b"".join(fragments)
            expect_echo(ws, whole)
    elif args.scenario == "bulk":
        for message in (BULK_TEXT, BULK_BINARY):
            ws.send(message)
            expect_echo(ws, message)
    elif args.scenario == "repeat":
        for _ in range(50):
            ws.send(REPEATED)
            expect_echo(ws, REPEATED)
    else:
        fail(f"unknown scenario {args.scenario!r}")
    ws.close(1000, "bye")
    rcvd, sent = ws.protocol.close_rcvd, ws.protocol.close_sent
    emit(
        "closed",
        rcvd.code if rcvd else "-",
        rcvd.reason if rcvd else "-",
        sent.code if sent else "-",
        sent.reason if sent else "-",
    )


if __name__ == "__main__":
    main()
