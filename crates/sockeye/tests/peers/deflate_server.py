"""A Python `websockets` (sync API) server with permessage-deflate, for interop_deflate.rs.

Usage: deflate_server.py [--server-no-context-takeover] [--client-no-context-takeover]
                         [--server-max-window-bits N] [--client-max-window-bits N]

With no option it uses websockets' own default (`compression="deflate"`: 12-bit windows both
ways when the client allows). Any option replaces that with a ServerPerMessageDeflateFactory
with exactly those parameters.

Binds 127.0.0.1 port 0 and prints `port N` on stdout, then one tab-separated event per line:

    open      PATH  EXTENSIONS|-            (the Sec-WebSocket-Extensions it answered)
    message   text|binary  LENGTH  ok|mismatch      (checked against patterns.py)
    closed    RCVD_CODE  RCVD_REASON  SENT_CODE  SENT_REASON   (- when absent)

Paths:

    /echo        echoes every message
    /fragments   sends FRAGMENTED (each list one fragmented message), then echoes
    /bulk        sends BULK_TEXT (4 MiB of repetitive text) and BULK_BINARY, then echoes

It serves until killed.
"""

import argparse
import sys
import threading
import urllib.parse

from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.sync.server import serve

from patterns import classify, pattern_bytes, pattern_text

MAX_SIZE = 64 * 1024 * 1024

FRAGMENTED = [
    ["frag", "ment", "ed ", "caf\u00e9 \u20ac"],
    [b"\x00\x01", b"", b"\xff" * 40],
    [pattern_text(300_000)[i : i + 70_000] for i in range(0, 300_000, 70_000)],
    [pattern_bytes(300_000)[i : i + 70_000] for i in range(0, 300_000, 70_000)],
]
BULK_TEXT = "sockeye and permessage-deflate " * (4 * 1024 * 1024 // 31)
BULK_BINARY = bytes(range(256)) * (1024 * 1024 // 256)

_print_lock = threading.Lock()


def emit(*fields):
    with _print_lock:
        print("\t".join(str(field) for field in fields), flush=True)


def report_close(ws):
    rcvd, sent = ws.protocol.close_rcvd, ws.protocol.close_sent
    emit(
        "closed",
        rcvd.code if rcvd else "-",
        rcvd.reason if rcvd else "-",
        sent.code if sent else "-",
        sent.reason if sent else "-",
    )


def handler(ws):
    url = urllib.parse.urlsplit(ws.request.path)
    emit("open", url.path, ws.response.headers.get("Sec-WebSocket-Extensions") or "-")
    if url.path == "/fragments":
        for fragments in FRAGMENTED:
            ws.send(fragments)
    elif url.path == "/bulk":
        ws.send(BULK_TEXT)
        ws.send(BULK_BINARY)
    try:
        for message in ws:
            emit("message", *classify(message))
            ws.send(message)
    except ConnectionClosed:
        pass
    report_close(ws)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server-no-context-takeover", action="store_true")
    parser.add_argument("--client-no-context-takeover", action="store_true")
    parser.add_argument("--server-max-window-bits", type=int)
    parser.add_argument("--client-max-window-bits", type=int)
    args = parser.parse_args()
    custom = (
        args.server_no_context_takeover
        or args.client_no_context_takeover
        or args.server_max_window_bits is not None
        or args.client_max_window_bits is not None
    )
    options = {}
    if custom:
        options = dict(
            compression=None,
            extensions=[
                ServerPerMessageDeflateFactory(
                    server_no_context_takeover=args.server_no_context_takeover,
                    client_no_context_takeover=args.client_no_context_takeover,
                    server_max_window_bits=args.server_max_window_bits,
                    client_max_window_bits=args.client_max_window_bits,
                )
            ],
        )
    with serve(
        handler,
        "127.0.0.1",
        0,
        max_size=MAX_SIZE,
        ping_interval=None,
        **options,
    ) as server:
        emit("port", server.socket.getsockname()[1])
        server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
