#!/usr/bin/env python3
"""A loopback OTLP/HTTP sink for benchmarks: accepts POST /v1/traces, counts
bodies and bytes, answers 200 with an empty protobuf message.
Usage: otlp_sink.py PORT"""
import http.server, sys

class Sink(http.server.BaseHTTPRequestHandler):
    posts = 0
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(n)
        Sink.posts += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
