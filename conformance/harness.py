#!/usr/bin/env python3
"""Helpers for conformance/run.sh (run with the Autobahn venv's python).

  harness.py free-port                      print a free TCP port on 127.0.0.1
  harness.py spec TEMPLATE OUT URL OUTDIR AGENT
                                            write TEMPLATE with its URL, report directory and
                                            (server mode) agent name set (and, with
                                            AUTOBAHN_FULL=1 in the environment, every case)
  harness.py wait-port PORT SECONDS [PID]   wait until 127.0.0.1:PORT accepts (PID: give up if it exits)
  harness.py check SPEC INDEX MODE          the gate summarize.py leaves out (see below)

`check` fails (exit 1) unless every case the spec selects is in INDEX, and each has behavior
OK or INFORMATIONAL and behaviorClose OK or INFORMATIONAL. summarize.py --strict already fails on
FAILED and NON-STRICT; this also catches UNIMPLEMENTED, missing cases (a crashed or hung run),
and unclean closes, which summarize.py only prints. For every case that is not OK it prints the
suite's verdicts and a wire-log excerpt from the per-case JSON.
"""
import json
import os
import socket
import sys
import time

GOOD = ("OK", "INFORMATIONAL")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])


def spec(template, out, url, outdir, agent):
    with open(template, encoding="utf-8") as f:
        data = json.load(f)
    if "servers" in data:
        data["servers"][0]["url"] = url
        data["servers"][0]["agent"] = agent
    else:
        data["url"] = url
    data["outdir"] = outdir
    if os.environ.get("AUTOBAHN_FULL") == "1":
        # All 517 cases instead of the template's CI selection (see CONFORMANCE.md).
        data["cases"] = ["*"]
        data["exclude-cases"] = []
    with open(out, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=3)


def wait_port(port, seconds, pid=None):
    deadline = time.monotonic() + float(seconds)
    while time.monotonic() < deadline:
        if pid is not None:
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                sys.exit(f"harness: process {pid} exited before 127.0.0.1:{port} accepted connections")
        try:
            with socket.create_connection(("127.0.0.1", int(port)), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"harness: nothing accepted connections on 127.0.0.1:{port} within {seconds} s")


def wire_excerpt(detail, limit=12):
    """The last frames of the wire log, as (direction, opcode, fin, payload excerpt)."""
    lines = []
    for entry in detail.get("wirelog", []):
        kind = entry[0]
        if kind in ("RF", "TF"):  # received / transmitted frame
            # [kind, (len, payload), opcode, fin, rsv, mask, ...]
            payload = entry[1][1] if isinstance(entry[1], list) else entry[1]
            payload = payload if len(str(payload)) <= 40 else str(payload)[:40] + "..."
            lines.append(f"{kind} op={entry[2]} fin={entry[3]} rsv={entry[4]} {payload!r}")
        elif kind in ("CT", "CTE", "KL", "KLE", "TI", "TIE", "WLM"):
            lines.append(f"{kind} {entry[1:]!r}"[:80])
    return lines[-limit:]


def check(spec_path, index_path, mode):
    from autobahntestsuite.case import (Cases, CaseBasename, CaseCategories, CaseSetname,
                                        CaseSubCategories)
    from autobahntestsuite.caseset import CaseSet

    with open(spec_path, encoding="utf-8") as f:
        wanted = CaseSet(CaseSetname, CaseBasename, Cases, CaseCategories,
                         CaseSubCategories).parseSpecCases(json.load(f))
    if not os.path.exists(index_path):
        print(f"{mode}: no report at {index_path}: the run did not finish")
        return False
    with open(index_path, encoding="utf-8") as f:
        index = json.load(f)
    ok = True
    for agent, cases in sorted(index.items()):
        missing = [c for c in wanted if c not in cases]
        if missing:
            ok = False
            print(f"{mode}: {len(missing)} of {len(wanted)} cases have no result: {' '.join(missing)}")
        bad = [c for c in wanted if c in cases
               and (cases[c]["behavior"] not in GOOD or cases[c]["behaviorClose"] not in GOOD)]
        for c in bad:
            ok = False
            r = cases[c]
            print(f"{mode}: case {c}: behavior {r['behavior']}, behaviorClose {r['behaviorClose']}")
            path = os.path.join(os.path.dirname(index_path), r["reportfile"])
            try:
                with open(path, encoding="utf-8") as f:
                    detail = json.load(f)
            except OSError as err:
                print(f"    (no per-case report: {err})")
                continue
            print(f"    {detail.get('description', '').strip()[:200]}")
            print(f"    expected: {str(detail.get('expected'))[:200]}")
            print(f"    received: {str(detail.get('received'))[:200]}")
            print(f"    result: {detail.get('result')}; close: {detail.get('resultClose')}")
            print(f"    expectedClose: {detail.get('expectedClose')}")
            print(f"    close: localCode={detail.get('localCloseCode')} remoteCode={detail.get('remoteCloseCode')} "
                  f"wasClean={detail.get('wasClean')} droppedByMe={detail.get('droppedByMe')} "
                  f"failedByMe={detail.get('failedByMe')} wasNotCleanReason={detail.get('wasNotCleanReason')!r}")
            for line in wire_excerpt(detail):
                print(f"      {line}")
        if not missing and not bad:
            print(f"{mode}: all {len(wanted)} cases OK or INFORMATIONAL, every close clean ({agent})")
    return ok


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "free-port" and not args:
        free_port()
    elif cmd == "spec" and len(args) == 5:
        spec(*args)
    elif cmd == "wait-port" and len(args) in (2, 3):
        wait_port(*args)
    elif cmd == "check" and len(args) == 3:
        sys.exit(0 if check(*args) else 1)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
