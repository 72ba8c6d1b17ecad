#!/usr/bin/env python3
"""The race-client loop with Python's websocket-client (1.9): one connection, synchronous.

    wsclient_bench.py URL [-s BYTES] [-w N] [-d SECONDS] [--warmup SECONDS] [--binary]

Sends a window of messages, then for each reply records its round trip (from the stamp in the
payload, the format race-client and `sockeye bench` use) and sends one more, until the end of
the run. websocket-client sets TCP_NODELAY by default. Prints one JSON object in the shape of
`sockeye bench --json` (percentiles exact, from the sorted round trips).
"""

import argparse
import json
import sys
import time

import websocket  # websocket-client


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("-s", type=int, default=16)
    parser.add_argument("-w", type=int, default=1)
    parser.add_argument("-d", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--binary", action="store_true")
    args = parser.parse_args()
    stamp_len = 8 if args.binary else 16
    if args.s < stamp_len:
        sys.exit("-s must be at least 8 (binary) or 16 (text)")

    filler = bytes(i % 251 for i in range(args.s)) if args.binary else b"x" * args.s
    ws = websocket.create_connection(args.url, timeout=30)
    start = time.perf_counter_ns()
    warmup_ns = int(args.warmup * 1e9)
    end_ns = warmup_ns + int(args.d * 1e9)

    def send(now_ns):
        if args.binary:
            ws.send_bytes(now_ns.to_bytes(8, "little") + filler[8:])
        else:
            ws.send_text(f"{now_ns:016x}" + filler[16:].decode())

    trips = []
    now_ns = time.perf_counter_ns() - start
    for _ in range(args.w):
        send(now_ns)
    while now_ns < end_ns:
        opcode, payload = ws.recv_data()
        now_ns = time.perf_counter_ns() - start
        if opcode not in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY):
            continue
        if len(payload) != args.s:
            sys.exit(f"a {args.s}-byte message came back with {len(payload)} bytes")
        sent = (int.from_bytes(payload[:8], "little") if args.binary
                else int(payload[:16].decode(), 16))
        if warmup_ns <= now_ns < end_ns:
            trips.append(now_ns - sent)
        send(now_ns)
    ws.abort()

    trips.sort()

    def quantile(q):
        if not trips:
            return 0.0
        return trips[min(len(trips) - 1, max(0, int(q * len(trips) + 0.999999) - 1))] / 1e3

    messages = len(trips)
    print(json.dumps({
        "client": "websocket-client (Python)",
        "url": args.url,
        "connections": 1,
        "size": args.s,
        "window": args.w,
        "binary": args.binary,
        "threads": 1,
        "warmup_s": args.warmup,
        "duration_s": args.d,
        "messages": messages,
        "bytes": messages * args.s,
        "msgs_per_sec": messages / args.d,
        "mb_per_sec": messages * args.s / args.d / 1e6,
        "latency_us": {
            "min": trips[0] / 1e3 if trips else 0.0,
            "mean": sum(trips) / len(trips) / 1e3 if trips else 0.0,
            "p50": quantile(0.5),
            "p90": quantile(0.9),
            "p99": quantile(0.99),
            "p999": quantile(0.999),
            "max": trips[-1] / 1e3 if trips else 0.0,
        },
    }))


if __name__ == "__main__":
    main()
