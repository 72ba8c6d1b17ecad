"""Python `websocket-client` through a proxy: the cross-check of sockeye's proxy tests.

Usage: wsclient_proxy.py WS_URL PROXY_URL

PROXY_URL is scheme://[user[:password]@]host:port with scheme http, socks4, socks4a, socks5 or
socks5h (SOCKS needs `python-socks`). Connects to WS_URL through that proxy, sends one text
message and prints tab-separated observations on stdout:

    open
    echo    TEXT
    closed

When the connection cannot be opened it prints `error  TYPE  MESSAGE` and exits 2.
"""

import sys
import urllib.parse

import websocket

TIMEOUT = 20


def emit(*fields):
    print("\t".join(str(field) for field in fields), flush=True)


def main():
    if len(sys.argv) != 3:
        print("usage: wsclient_proxy.py WS_URL PROXY_URL", file=sys.stderr)
        sys.exit(1)
    url, proxy = sys.argv[1], sys.argv[2]
    parts = urllib.parse.urlsplit(proxy)
    auth = None
    if parts.username is not None:
        auth = (
            urllib.parse.unquote(parts.username),
            urllib.parse.unquote(parts.password or ""),
        )
    try:
        ws = websocket.create_connection(
            url,
            timeout=TIMEOUT,
            http_proxy_host=parts.hostname,
            http_proxy_port=parts.port,
            http_proxy_auth=auth,
            proxy_type=parts.scheme,
            # Never bypass the proxy for loopback: the servers of the tests are on 127.0.0.1.
            http_no_proxy=["no-such-host.invalid"],
            suppress_origin=True,
        )
    except Exception as err:  # noqa: BLE001 - every failure is reported the same way
        emit("error", type(err).__name__, str(err).replace("\n", " "))
        sys.exit(2)
    emit("open")
    ws.send(f"websocket-client via {parts.scheme}")
    emit("echo", ws.recv())
    ws.close(timeout=TIMEOUT)
    emit("closed")


if __name__ == "__main__":
    main()
