"""A Python `websocket-client` client for sockeye's interop tests.

Usage: wsclient_client.py URL SCENARIO

Runs one scenario against a sockeye server and prints tab-separated observations on stdout:

    open        SUBPROTOCOL|-
    echo        text|binary  LENGTH  ok|mismatch
    pong        PAYLOAD
    ping        PAYLOAD                               (a ping from the server, answered automatically)
    close-rcvd  CODE  REASON                          (the server's close frame, - when absent)

Scenarios (the Rust side plays the matching server part):

    sizes          every size of patterns.SIZES as text then binary, each echo checked; close 1000 "bye"
    fragments      fragmented messages built frame by frame (a ping between fragments, a UTF-8
                   character split across fragments, an empty fragment, a large message);
                   echoes checked; close 1000
    ping           pings with b"from-wsclient", expects the pong; close 1000
    wait-close     reads frames until the server's close (answering a ping on the way)
    client-close   closes with 4001 "custom" and reports the server's reply
    handshake      offers subprotocols chat.v1, chat.v2 with a custom header and Origin; close 1000

Exits 1 (with the reason on stderr) when something it checks is wrong.
"""

import struct
import sys

import websocket
from websocket import ABNF

from patterns import SIZES, classify, pattern_bytes, pattern_text

TIMEOUT = 20


def emit(*fields):
    print("\t".join(str(field) for field in fields), flush=True)


def fail(why):
    print(f"wsclient_client: {why}", file=sys.stderr, flush=True)
    sys.exit(1)


def close_fields(frame):
    if frame is None or len(frame.data) < 2:
        return "-", "-"
    (code,) = struct.unpack("!H", frame.data[:2])
    return code, frame.data[2:].decode("utf-8")


def recv_data(ws):
    opcode, data = ws.recv_data(control_frame=True)
    if opcode == ABNF.OPCODE_TEXT:
        return data.decode("utf-8")
    if opcode == ABNF.OPCODE_BINARY:
        return bytes(data)
    fail(f"expected a data message, got opcode {opcode}")


def expect_echo(ws, sent):
    received = recv_data(ws)
    if type(received) is not type(sent) or received != sent:
        fail(f"echo of a {len(sent)}-unit {type(sent).__name__} message differs")
    emit("echo", *classify(received))


def expect_pong(ws, payload):
    opcode, data = ws.recv_data(control_frame=True)
    if opcode != ABNF.OPCODE_PONG or data != payload:
        fail(f"expected a pong {payload!r}, got opcode {opcode} {data!r}")
    emit("pong", data.decode("utf-8"))


def close(ws, code, reason):
    ws.close(status=code, reason=reason.encode("utf-8"), timeout=TIMEOUT)
    emit("close-rcvd", *close_fields(ws.close_frame))


def send_fragmented(ws):
    """Frame by frame, as RFC 6455 section 5.4 allows, with a ping in the middle of a message."""
    frame = ABNF.create_frame
    ws.send_frame(frame("frag", ABNF.OPCODE_TEXT, 0))
    ws.send_frame(frame(b"mid", ABNF.OPCODE_PING, 1))
    ws.send_frame(frame(b"ment", ABNF.OPCODE_CONT, 0))
    ws.send_frame(frame(b"ed", ABNF.OPCODE_CONT, 1))
    expect_pong(ws, b"mid")
    expect_echo(ws, "fragmented")

    # "café" with the two bytes of "é" in different fragments.
    ws.send_frame(frame(b"caf\xc3", ABNF.OPCODE_TEXT, 0))
    ws.send_frame(frame(b"\xa9", ABNF.OPCODE_CONT, 1))
    expect_echo(ws, "caf\u00e9")

    ws.send_frame(frame(b"\x00\x01", ABNF.OPCODE_BINARY, 0))
    ws.send_frame(frame(b"", ABNF.OPCODE_CONT, 0))
    ws.send_frame(frame(b"\xff", ABNF.OPCODE_CONT, 1))
    expect_echo(ws, b"\x00\x01\xff")

    large = pattern_bytes(300_000)
    pieces = [large[i : i + 70_000] for i in range(0, len(large), 70_000)]
    for index, piece in enumerate(pieces):
        opcode = ABNF.OPCODE_BINARY if index == 0 else ABNF.OPCODE_CONT
        ws.send_frame(frame(piece, opcode, 1 if index == len(pieces) - 1 else 0))
    expect_echo(ws, large)


def main():
    if len(sys.argv) != 3:
        fail("usage: wsclient_client.py URL SCENARIO")
    url, scenario = sys.argv[1], sys.argv[2]
    options = {}
    if scenario == "handshake":
        options = dict(
            subprotocols=["chat.v1", "chat.v2"],
            header=["X-Sockeye-Test: from websocket-client"],
            origin="http://origin.test",
        )
    else:
        # websocket-client sends an Origin by default; keep requests minimal elsewhere.
        options = dict(suppress_origin=True)
    ws = websocket.create_connection(url, timeout=TIMEOUT, **options)
    emit("open", ws.getsubprotocol() or "-")

    if scenario == "sizes":
        for size in SIZES:
            text, data = pattern_text(size), pattern_bytes(size)
            ws.send(text)
            expect_echo(ws, text)
            ws.send_binary(data)
            expect_echo(ws, data)
        close(ws, 1000, "bye")
    elif scenario == "fragments":
        send_fragmented(ws)
        close(ws, 1000, "done")
    elif scenario == "ping":
        ws.ping(b"from-wsclient")
        expect_pong(ws, b"from-wsclient")
        close(ws, 1000, "done")
    elif scenario == "wait-close":
        while True:
            opcode, frame = ws.recv_data_frame(control_frame=True)
            if opcode == ABNF.OPCODE_PING:
                emit("ping", frame.data.decode("utf-8"))
            elif opcode == ABNF.OPCODE_CLOSE:
                # recv_data_frame has already answered with a close (1000).
                emit("close-rcvd", *close_fields(frame))
                break
            else:
                fail(f"expected a ping or the close, got opcode {opcode}")
    elif scenario == "client-close":
        close(ws, 4001, "custom")
    elif scenario == "handshake":
        close(ws, 1000, "done")
    else:
        fail(f"unknown scenario {scenario!r}")


if __name__ == "__main__":
    main()
