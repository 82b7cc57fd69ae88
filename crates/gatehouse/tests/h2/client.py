"""A frame-level HTTP/2 client (the `h2` package, independent of the gateway's hyper stack) for the
hostile end-to-end tests.

Usage: client.py HOST PORT REQUESTS_JSON

REQUESTS_JSON is a list of requests, each a list of [name, value] header pairs in the order they are
sent (pseudo-headers included, exactly as given: nothing is added, checked or normalized), with an
optional body: {"headers": [[":method", "GET"], ...], "body": "..."}. Each request is sent on its own
stream of one cleartext (prior-knowledge) connection, one after another. Prints one JSON list: per
request {"status": int or null, "headers": {...}, "body": str, "reset": error code or null}.
"""

import json
import socket
import sys

import h2.config
import h2.connection
import h2.events


def main():
    host, port, requests = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
    sock = socket.create_connection((host, port), timeout=10)
    config = h2.config.H2Configuration(
        client_side=True, header_encoding="utf-8", validate_outbound_headers=False,
        normalize_outbound_headers=False, validate_inbound_headers=False)
    conn = h2.connection.H2Connection(config=config)
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    results = []
    for req in requests:
        stream = conn.get_next_available_stream_id()
        body = req.get("body")
        conn.send_headers(stream, [tuple(h) for h in req["headers"]], end_stream=body is None)
        if body is not None:
            conn.send_data(stream, body.encode(), end_stream=True)
        sock.sendall(conn.data_to_send())
        result = {"status": None, "headers": {}, "body": "", "reset": None}
        done = False
        while not done:
            data = sock.recv(65536)
            if not data:
                result["reset"] = "connection closed"
                break
            for event in conn.receive_data(data):
                if getattr(event, "stream_id", stream) != stream:
                    continue
                if isinstance(event, h2.events.ResponseReceived):
                    for name, value in event.headers:
                        if name == ":status":
                            result["status"] = int(value)
                        else:
                            result["headers"].setdefault(name, value)
                elif isinstance(event, h2.events.DataReceived):
                    result["body"] += event.data.decode("utf-8", "replace")
                    conn.acknowledge_received_data(event.flow_controlled_length, stream)
                elif isinstance(event, h2.events.StreamEnded):
                    done = True
                elif isinstance(event, h2.events.StreamReset):
                    result["reset"] = int(event.error_code)
                    done = True
                elif isinstance(event, h2.events.ConnectionTerminated):
                    result["reset"] = "goaway %d" % int(event.error_code)
                    done = True
            sock.sendall(conn.data_to_send())
        results.append(result)
        if result["reset"] is not None and not isinstance(result["reset"], int):
            break
    print(json.dumps(results))


if __name__ == "__main__":
    main()
