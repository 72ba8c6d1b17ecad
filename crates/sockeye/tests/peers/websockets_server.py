"""A Python `websockets` (sync API) server for sockeye's interop tests.

Usage: websockets_server.py [--compression deflate|none] [--subprotocols a,b]

Binds 127.0.0.1 port 0 and prints `port N` on stdout, then one tab-separated event per line:

    open      PATH  SUBPROTOCOL|-  EXTENSIONS|-
    message   text|binary  LENGTH  ok|mismatch      (checked against patterns.py)
    pong      ok|missing  PAYLOAD
    closed    RCVD_CODE  RCVD_REASON  SENT_CODE  SENT_REASON   (- when absent)

What a connection gets depends on its path:

    /echo             echoes every message
    /headers          sends the request head as one text message ("Name: value" lines), then echoes
    /fragments        sends fragmented messages (see FRAGMENTED below), then echoes
    /ping             pings with b"from-python", waits for the pong, sends "pong received", echoes
    /binary-greeting  sends b"\\xde\\xad\\xbe\\xef" as a binary message, then echoes
    /close?code=C&reason=R   closes with that code and reason

It serves until killed: the Rust tests stop it when they are done.
"""

import argparse
import sys
import threading
import urllib.parse

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import serve

from patterns import classify, pattern_bytes

PONG_WAIT_SECONDS = 10
MAX_SIZE = 64 * 1024 * 1024

# What /fragments sends, each as one message in fragments.
FRAGMENTED = [
    ["frag", "ment", "ed"],
    [b"\x00\x01", b"", b"\xff"],
    [pattern_bytes(300_000)[i : i + 70_000] for i in range(0, 300_000, 70_000)],
]

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


def echo(ws):
    try:
        for message in ws:
            emit("message", *classify(message))
            ws.send(message)
    except ConnectionClosed:
        pass
    report_close(ws)


def handler(ws):
    url = urllib.parse.urlsplit(ws.request.path)
    extensions = ws.response.headers.get("Sec-WebSocket-Extensions") or "-"
    emit("open", url.path, ws.subprotocol or "-", extensions)
    if url.path == "/headers":
        lines = [f"{name}: {value}" for name, value in ws.request.headers.raw_items()]
        ws.send("\n".join(lines))
    elif url.path == "/fragments":
        for fragments in FRAGMENTED:
            ws.send(fragments)
    elif url.path == "/ping":
        pong = ws.ping(b"from-python")
        received = pong.wait(PONG_WAIT_SECONDS)
        emit("pong", "ok" if received else "missing", "from-python")
        ws.send("pong received" if received else "no pong")
    elif url.path == "/binary-greeting":
        ws.send(b"\xde\xad\xbe\xef")
    elif url.path == "/close":
        query = urllib.parse.parse_qs(url.query)
        ws.close(int(query["code"][0]), query.get("reason", [""])[0])
        report_close(ws)
        return
    echo(ws)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--compression", choices=["deflate", "none"], default="deflate")
    parser.add_argument("--subprotocols", default="")
    args = parser.parse_args()
    subprotocols = [p for p in args.subprotocols.split(",") if p] or None
    with serve(
        handler,
        "127.0.0.1",
        0,
        compression=None if args.compression == "none" else "deflate",
        subprotocols=subprotocols,
        max_size=MAX_SIZE,
        # Keepalive pings would arrive at unpredictable points of a test.
        ping_interval=None,
    ) as server:
        emit("port", server.socket.getsockname()[1])
        server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
