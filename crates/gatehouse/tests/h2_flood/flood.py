"""An HTTP/2 client (the Python `h2` package, independent of hyper) that floods a gateway.

Usage: flood.py HOST:PORT MODE COUNT
  MODE ping      COUNT non-ACK PING frames
  MODE settings  COUNT non-ACK SETTINGS frames
  MODE reset     COUNT HEADERS + RST_STREAM pairs (rapid reset)
  MODE request   one GET / with COUNT PINGs before it (a well-behaved client)

Frames go out in batches of 100; replies are read between batches. Prints one JSON line:
{"sent": frames sent, "acks": PING/SETTINGS ACKs received, "status": response status or null,
 "closed": whether the server closed or reset the connection, "goaway": GOAWAY received}.
Bounded: 10 s overall, 2 s per read.
"""

import json
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

BATCH = 100
DEADLINE = time.monotonic() + 10


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    mode, count = sys.argv[2], int(sys.argv[3])
    sock = socket.create_connection((host, int(port)), timeout=2)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    out = {"sent": 0, "acks": 0, "status": None, "closed": False, "goaway": False}

    def pump(wait):
        """Reads what is there (waiting up to `wait` s for the first bytes); False once closed."""
        sock.settimeout(wait)
        while True:
            try:
                data = sock.recv(65536)
            except socket.timeout:
                return True
            except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
                out["closed"] = True
                return False
            if not data:
                out["closed"] = True
                return False
            try:
                events = conn.receive_data(data)
            except h2.exceptions.ProtocolError:
                events = []
            for e in events:
                if isinstance(e, (h2.events.PingAckReceived, h2.events.SettingsAcknowledged)):
                    out["acks"] += 1
                elif isinstance(e, h2.events.ResponseReceived):
                    out["status"] = int(dict(e.headers)[b":status"])
                elif isinstance(e, h2.events.ConnectionTerminated):
                    out["goaway"] = True
            try:
                sock.sendall(conn.data_to_send())
            except OSError:
                out["closed"] = True
                return False
            sock.settimeout(0.01)

    def send(data):
        try:
            sock.sendall(data)
            return True
        except OSError:
            out["closed"] = True
            return False

    alive = True
    sent = 0
    while alive and sent < count and time.monotonic() < DEADLINE:
        for _ in range(min(BATCH, count - sent)):
            if mode in ("ping", "request"):
                conn.ping(sent.to_bytes(8, "big"))
            elif mode == "settings":
                conn.update_settings({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 100})
            elif mode == "reset":
                stream = conn.get_next_available_stream_id()
                conn.send_headers(
                    stream,
                    [(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", "x")],
                )
                conn.reset_stream(stream)
            sent += 1
        alive = send(conn.data_to_send()) and pump(0.01)
    out["sent"] = sent
    if alive and mode == "request":
        stream = conn.get_next_available_stream_id()
        conn.send_headers(
            stream,
            [(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", "gw.test")],
            end_stream=True,
        )
        alive = send(conn.data_to_send())
        while alive and out["status"] is None and time.monotonic() < DEADLINE:
            alive = pump(2)
    # Drain: whatever the server still sends, until it closes or goes quiet.
    while alive and time.monotonic() < DEADLINE:
        before = dict(out)
        alive = pump(1)
        if alive and before == out:
            break
    print(json.dumps(out))


if __name__ == "__main__":
    main()
