#!/usr/bin/env python3
"""Open N keep-alive connections to HOST:PORT, make one request on each, keep them all open.

Usage: idle_conns.py HOST PORT N

Each connection sends `GET / HTTP/1.1` with `Host: x`, reads the whole response (Content-Length or
chunked) and is then left idle. When all N are established and answered, the script prints
`READY <n_ok> <n_failed>` on stdout (flushed) and waits for SIGTERM/SIGINT, then closes every
socket. Progress and errors go to stderr.

The caller must raise the file-descriptor limit (`ulimit -n`) beforehand.
"""

import signal
import socket
import sys

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
BATCH = 200  # connections opened before their responses are read


def read_response(sock):
    """Read one HTTP/1.1 response; return its status code. Raises on EOF or malformed input."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("EOF before the response head")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if b"content-length" in headers:
        need = int(headers[b"content-length"])
        while len(rest) < need:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("EOF inside the body")
            rest += chunk
    elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        while not rest.endswith(b"0\r\n\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("EOF inside a chunked body")
            rest += chunk
    if headers.get(b"connection", b"").lower() == b"close":
        raise ConnectionError("server asked to close the connection")
    return status


def main():
    host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    socks, failed = [], 0
    statuses = {}
    for start in range(0, n, BATCH):
        batch = []
        for _ in range(min(BATCH, n - start)):
            try:
                s = socket.create_connection((host, port), timeout=10)
                s.sendall(REQUEST)
                batch.append(s)
            except OSError as e:
                failed += 1
                print(f"connect/send failed: {e}", file=sys.stderr)
        for s in batch:
            try:
                code = read_response(s)
                statuses[code] = statuses.get(code, 0) + 1
                socks.append(s)
            except (OSError, ValueError, IndexError) as e:
                failed += 1
                print(f"response failed: {e}", file=sys.stderr)
                s.close()
        if (start // BATCH) % 10 == 9:
            print(f"{len(socks)} connections open", file=sys.stderr)
    print(f"statuses: {statuses}", file=sys.stderr)
    print(f"READY {len(socks)} {failed}", flush=True)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            signal.pause()
    except (KeyboardInterrupt, SystemExit):
        pass
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
