#!/usr/bin/env python3
"""Markdown tables from the race's JSON-lines results, written between markers in BENCHMARKS.md.

    report.py servers RESULTS.jsonl --command CMD [--write BENCHMARKS.md --marker NAME]
    report.py clients RESULTS.jsonl --command CMD [--write ... --marker ...]
    report.py scale   RESULTS.jsonl --command CMD [--write ... --marker ...]

The block between `<!-- NAME:begin -->` and `<!-- NAME:end -->` is replaced; when the markers
are missing, the block is appended at the end of the file with them. Nothing else in the file
changes. Without --write the block is printed.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from collections import defaultdict

PEERS = ["tungstenite", "fastwebsockets"]


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        rustc = "rustc ?"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        commit += " + uncommitted changes" if dirty else ""
    except OSError:
        commit = "?"
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"{date}; {os.cpu_count()} CPUs (nproc), {cpu}, Linux {platform.release()}; "
            f"{rustc}; git {commit}. A shared machine: other builds and tests ran at the same "
            f"time, so single numbers are noisy; compare the servers within a row (they ran one "
            f"after another under the same conditions).")


def load(path):
    with open(path) as results:
        return [json.loads(line) for line in results if line.strip()]


def rate(value):
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:.0f}"


def micros(value):
    if value >= 1000:
        return f"{value / 1000:.1f} ms"
    return f"{value:.0f} µs"


def size_name(size):
    if size >= 1024 and size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} B"


def median_run(runs):
    """The median msgs/s and p99 of repeated runs, and the spread of msgs/s."""
    ok = [run for run in runs if not run.get("errors") and run.get("messages")]
    if not ok:
        return None
    rates = [run["msgs_per_sec"] for run in ok]
    p99 = statistics.median(run["latency_us"]["p99"] for run in ok)
    cpu = [run["server_cpu_ticks"] * 1e4 / (run["msgs_per_sec"] * (run["duration_s"] + run["warmup_s"]))
           for run in ok if "server_cpu_ticks" in run]
    cpu += [run["client_cpu_s"] * 1e6 / (run["msgs_per_sec"] * (run["duration_s"] + run["warmup_s"]))
            for run in ok if "client_cpu_s" in run]
    return {
        "rate": statistics.median(rates),
        "spread": (max(rates) - min(rates)) / statistics.median(rates) if len(rates) > 1 else 0.0,
        "p99": p99,
        "cpu_us": statistics.median(cpu) if cpu else None,
        "runs": len(ok),
    }


def servers_block(rows, command):
    groups = defaultdict(lambda: defaultdict(list))
    for run in rows:
        key = (run["threads"], run["connections"], run["size"], run["window"])
        groups[key][run["server"]].append(run)
    servers = [s for s in ["sockeye", "sockeye-loop", "tungstenite", "fastwebsockets", "tcp"]
               if any(s in by_server for by_server in groups.values())]
    repeats = max((len(runs) for by_server in groups.values() for runs in by_server.values()),
                  default=1)
    out = [f"Command: `{command}`", "", f"Machine: {machine()}", ""]
    out.append(f"msgs/s (median of {repeats} run{'s' if repeats > 1 else ''}) · p99 round trip. "
               "Ratios are sockeye's msgs/s over the peer's; ✓ when the issue's target is met "
               "(≥1.3× tokio-tungstenite; ≥1.1× fastwebsockets, ≥3× for window 64 with 16 B and "
               "1 KiB) and sockeye's p99 is no worse than the peer's; ⊘ when no server could "
               "meet it under this load generator, because the TCP ceiling itself is less than "
               "the target times the peer in that row (the ceiling's ratio is given); ✗ "
               "otherwise.")
    out.append("")
    header = ["runtime", "conns", "size", "window"] + [
        "TCP ceiling" if s == "tcp" else s for s in servers]
    header += [f"sockeye/{p}" for p in PEERS if p in servers]
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "---|" * len(header))
    cpu_lines = []
    for key in sorted(groups):
        threads, conns, size, window = key
        medians = {s: median_run(groups[key].get(s, [])) for s in servers}
        runtime = "current-thread" if threads == 1 else f"{threads} threads"
        cells = [runtime, str(conns), size_name(size), str(window)]
        for s in servers:
            m = medians[s]
            if m is None:
                cells.append("failed")
            else:
                spread = f" ±{m['spread'] * 50:.0f}%" if m["runs"] > 1 and m["spread"] > 0.1 else ""
                cells.append(f"{rate(m['rate'])}{spread} · {micros(m['p99'])}")
        mine = medians.get("sockeye")
        for peer in PEERS:
            if peer not in servers:
                continue
            theirs = medians[peer]
            if mine is None or theirs is None:
                cells.append("–")
                continue
            ratio = mine["rate"] / theirs["rate"]
            if peer == "tungstenite":
                target = 1.3
            else:
                target = 3.0 if window == 64 and size in (16, 1024) else 1.1
            met = ratio >= target and mine["p99"] <= theirs["p99"]
            ceiling = medians.get("tcp")
            room = ceiling["rate"] / theirs["rate"] if ceiling else None
            if met:
                cells.append(f"{ratio:.2f}× ✓")
            elif room is not None and room < target:
                # Even the TCP ceiling is not `target` times the peer here.
                cells.append(f"{ratio:.2f}× ⊘ (ceiling {room:.2f}×)")
            else:
                cells.append(f"{ratio:.2f}× ✗")
        out.append("| " + " | ".join(cells) + " |")
        cpu_cells = [runtime, str(conns), size_name(size), str(window)]
        for s in servers:
            m = medians[s]
            cpu_cells.append("–" if m is None or m["cpu_us"] is None else f"{m['cpu_us']:.2f}")
        cpu_lines.append("| " + " | ".join(cpu_cells) + " |")
    out.append("")
    out.append("Server CPU time (user + system, from /proc/PID/stat) per echoed message, in µs — "
               "less sensitive to the machine's noise than msgs/s:")
    out.append("")
    cpu_header = ["runtime", "conns", "size", "window"] + [
        "TCP ceiling" if s == "tcp" else s for s in servers]
    out.append("| " + " | ".join(cpu_header) + " |")
    out.append("|" + "---|" * len(cpu_header))
    out.extend(cpu_lines)
    return "\n".join(out)


def clients_block(rows, command):
    groups = defaultdict(lambda: defaultdict(list))
    for run in rows:
        groups[(run["size"], run["window"])][run["client"]].append(run)
    clients = [c for c in ["sockeye bench", "sockeye", "tungstenite", "fastwebsockets",
                           "websocket-client (Python)"]
               if any(c in by_client for by_client in groups.values())]
    repeats = max((len(runs) for by_client in groups.values() for runs in by_client.values()),
                  default=1)
    out = [f"Command: `{command}`", "", f"Machine: {machine()}", ""]
    out.append("One connection, binary messages, against the TCP ceiling server (current-thread); "
               f"msgs/s (median of {repeats} run{'s' if repeats > 1 else ''}) · p99 round trip. "
               "`sockeye` is race-client's loop with sockeye's client; `sockeye bench` is the "
               "load generator itself.")
    out.append("")
    header = ["size", "window"] + clients + ["sockeye/tungstenite", "sockeye/fastwebsockets"]
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "---|" * len(header))
    cpu_lines = []
    for key in sorted(groups):
        size, window = key
        medians = {c: median_run(groups[key].get(c, [])) for c in clients}
        cells = [size_name(size), str(window)]
        for c in clients:
            m = medians[c]
            if m is None:
                cells.append("failed" if groups[key].get(c) else "–")
            else:
                spread = f" ±{m['spread'] * 50:.0f}%" if m["runs"] > 1 and m["spread"] > 0.1 else ""
                cells.append(f"{rate(m['rate'])}{spread} · {micros(m['p99'])}")
        mine = medians.get("sockeye")
        for peer in PEERS:
            theirs = medians.get(peer)
            if mine and theirs:
                cells.append(f"{mine['rate'] / theirs['rate']:.2f}×")
            else:
                cells.append("–")
        out.append("| " + " | ".join(cells) + " |")
        cpu_cells = [size_name(size), str(window)]
        for c in clients:
            m = medians[c]
            cpu_cells.append("–" if m is None or m["cpu_us"] is None else f"{m['cpu_us']:.2f}")
        cpu_lines.append("| " + " | ".join(cpu_cells) + " |")
    if any(line.count("–") < len(clients) for line in cpu_lines):
        out.append("")
        out.append("Client CPU time (user + system of the client process, from bash `time`) per "
                   "echoed message, in µs; it includes the process's start-up and connection, "
                   "which weighs on the Python client (interpreter start) at low rates:")
        out.append("")
        cpu_header = ["size", "window"] + clients
        out.append("| " + " | ".join(cpu_header) + " |")
        out.append("|" + "---|" * len(cpu_header))
        out.extend(cpu_lines)
    return "\n".join(out)


def scale_block(rows, command):
    out = [f"Command: `{command}`", "", f"Machine: {machine()}", ""]
    out.append("| server | connections | RSS before | idle: bytes/conn | after a 16 B echo each | "
               "after a 64 KiB echo each |")
    out.append("|---|---|---|---|---|---|")
    for run in rows:
        if "error" in run:
            out.append(f"| {run['server']} | {run.get('connections', '?')} | failed: {run['error']} | | | |")
            continue
        per = run["bytes_per_connection"]
        out.append(
            f"| {run['server']} | {run['connections']} | {run['rss_kib']['before'] / 1024:.1f} MiB | "
            f"{per['idle'] / 1024:.1f} KiB | {per['after_16b_echo'] / 1024:.1f} KiB | "
            f"{per['after_64kib_echo'] / 1024:.1f} KiB |")
    return "\n".join(out)


def write(path, marker, block):
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    generated = f"{begin}\n{block}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + generated + tail
    else:
        text = text.rstrip("\n") + "\n\n" + generated + "\n"
    with open(path, "w") as out:
        out.write(text)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["servers", "clients", "scale"])
    parser.add_argument("results")
    parser.add_argument("--command", required=True)
    parser.add_argument("--write")
    parser.add_argument("--marker")
    args = parser.parse_args()
    rows = load(args.results)
    block = {"servers": servers_block, "clients": clients_block, "scale": scale_block}[args.kind](
        rows, args.command)
    if args.write:
        write(args.write, args.marker or f"race-{args.kind}", block)
    else:
        print(block)


if __name__ == "__main__":
    sys.exit(main())
