"""A Python `websockets` (sync API) client for sockeye's interop tests.

Usage: websockets_client.py URL SCENARIO [--compression deflate|none]

Runs one scenario against a sockeye server and prints tab-separated observations on stdout:

    open        SUBPROTOCOL|-  OFFERED_EXTENSIONS|-  ACCEPTED_EXTENSIONS|-
    echo        text|binary  LENGTH  ok|mismatch
    pong        ok|missing  PAYLOAD
    closed      RCVD_CODE  RCVD_REASON  SENT_CODE  SENT_REASON   (- when absent)

Scenarios (the Rust side plays the matching server part):

    sizes          every size of patterns.SIZES as text then binary, each echo checked; close 1000 "bye"
    fragments      fragmented text, binary and a large binary message, echoes checked; close 1000
    ping           pings with b"from-python" and waits for the pong; close 1000
    wait-close     receives until the server closes (the server may ping first)
    client-close   closes with 4001 "custom"
    handshake      offers subprotocols chat.v1, chat.v2 with a custom header and Origin; close 1000

Exits 1 (with the reason on stderr) when something it checks is wrong.
"""

import argparse
import sys

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from patterns import SIZES, classify, pattern_bytes, pattern_text

TIMEOUT = 20
PONG_WAIT_SECONDS = 10
MAX_SIZE = 64 * 1024 * 1024

# Sent as fragmented messages by the `fragments` scenario; the Rust side checks what it assembles.
FRAGMENTED = [
    ["frag", "ment", "ed"],
    [b"\x00\x01", b"", b"\xff"],
    [pattern_bytes(300_000)[i : i + 70_000] for i in range(0, 300_000, 70_000)],
]


def emit(*fields):
    print("\t".join(str(field) for field in fields), flush=True)


def fail(why):
    print(f"websockets_client: {why}", file=sys.stderr, flush=True)
    sys.exit(1)


def report_close(ws):
    rcvd, sent = ws.protocol.close_rcvd, ws.protocol.close_sent
    emit(
        "closed",
        rcvd.code if rcvd else "-",
        rcvd.reason if rcvd else "-",
        sent.code if sent else "-",
        sent.reason if sent else "-",
    )


def expect_echo(ws, sent):
    received = ws.recv(timeout=TIMEOUT)
    if type(received) is not type(sent) or received != sent:
        fail(f"echo of a {len(sent)}-unit {type(sent).__name__} message differs")
    emit("echo", *classify(received))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("scenario")
    parser.add_argument("--compression", choices=["deflate", "none"], default="none")
    args = parser.parse_args()

    options = {}
    if args.scenario == "handshake":
        options = dict(
            subprotocols=["chat.v1", "chat.v2"],
            additional_headers={"X-Sockeye-Test": "from websockets"},
            origin="http://origin.test",
        )
    ws = connect(
        args.url,
        compression=None if args.compression == "none" else "deflate",
        max_size=MAX_SIZE,
        open_timeout=TIMEOUT,
        close_timeout=TIMEOUT,
        ping_interval=None,
        **options,
    )
    emit(
        "open",
        ws.subprotocol or "-",
        ws.request.headers.get("Sec-WebSocket-Extensions") or "-",
        ws.response.headers.get("Sec-WebSocket-Extensions") or "-",
    )

    if args.scenario == "sizes":
        for size in SIZES:
            for message in (pattern_text(size), pattern_bytes(size)):
                ws.send(message)
                expect_echo(ws, message)
        ws.close(1000, "bye")
    elif args.scenario == "fragments":
        for fragments in FRAGMENTED:
            ws.send(fragments)
            whole = "".join(fragments) if isinstance(fragments[0], str) else b"".join(fragments)
            expect_echo(ws, whole)
        ws.close(1000, "done")
    elif args.scenario == "ping":
        pong = ws.ping(b"from-python")
        emit("pong", "ok" if pong.wait(PONG_WAIT_SECONDS) else "missing", "from-python")
        ws.close(1000, "done")
    elif args.scenario == "wait-close":
        try:
            message = ws.recv(timeout=TIMEOUT)
            fail(f"expected the server to close, got a message: {message!r}")
        except ConnectionClosed:
            pass
    elif args.scenario == "client-close":
        ws.close(4001, "custom")
    elif args.scenario == "handshake":
        ws.close(1000, "done")
    else:
        fail(f"unknown scenario {args.scenario!r}")
    report_close(ws)


if __name__ == "__main__":
    main()
