#!/usr/bin/env python3
"""proxy.py - a small HTTP forward proxy with CONNECT tunnels, for the cfiam tests.
Python standard library only.

It stands for the egress proxy of a company network (the server option `proxy`):
it listens on 127.0.0.1, forwards absolute-form requests ("GET http://host:port/path",
what libcurl sends for an http:// URL), tunnels CONNECT requests (what libcurl sends for
an https:// URL) and remembers one line per request it received, "METHOD URL" or
"CONNECT host:port". It never records a header: the credential stays out of its log.

    serve --port N [--log FILE]
                    run the proxy on 127.0.0.1:N until SIGTERM; each request line is
                    also appended to FILE
    log [--keep]    print the remembered request lines, the mock's port shown as
                    MOCK_PORT (so the output does not depend on the port), then forget
                    them unless --keep
    wait [--timeout SECONDS]
                    wait until the proxy answers (default 10 s)

The client commands find the proxy at 127.0.0.1:$CFIAM_PROXY_PORT (default 18790) and
the mock's port in $CFIAM_MOCK_PORT. The proxy's own control requests are origin-form
(GET /__proxy/log), which a client speaking to a proxy never sends.
"""

import argparse
import http.client
import http.server
import json
import os
import selectors
import socket
import socketserver
import sys
import threading
import time
import urllib.parse

DEFAULT_PORT = 18790

# Headers that concern one hop only, never forwarded (RFC 9110, 7.6.1).
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization",
              "proxy-authenticate", "te", "trailer", "transfer-encoding", "upgrade"}


class ProxyServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, log_file):
        super().__init__(address, ProxyHandler)
        self.lines = []
        self.lock = threading.Lock()
        self.log_file = log_file

    def remember(self, line):
        with self.lock:
            self.lines.append(line)
            if self.log_file:
                with open(self.log_file, "a", encoding="utf-8") as f:
                    f.write(line + "\n")


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def reply(self, status, body=b"", content_type="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    # --- control requests (origin-form) ---
    def control(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        if url.path == "/__proxy/health":
            self.reply(200, b"ok\n")
        elif url.path == "/__proxy/log":
            with self.server.lock:
                lines = list(self.server.lines)
                if "keep" not in query:
                    self.server.lines = []
            self.reply(200, json.dumps(lines).encode(), "application/json")
        else:
            self.reply(404, b"not a proxy control path\n")

    # --- forwarding (absolute-form) ---
    def forward(self):
        if self.path.startswith("/"):
            return self.control()
        url = urllib.parse.urlsplit(self.path)
        self.server.remember(f"{self.command} {self.path}")
        if url.scheme != "http" or not url.hostname:
            return self.reply(400, b"only http:// URLs are forwarded; use CONNECT for https\n")
        length = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding"):
            return self.reply(501, b"chunked request bodies are not supported\n")
        body = self.rfile.read(length) if length else None
        target = url.path or "/"
        if url.query:
            target += "?" + url.query
        try:
            upstream = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=60)
            upstream.putrequest(self.command, target, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    upstream.putheader(name, value)
            upstream.endheaders(body)
            response = upstream.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as e:
            return self.reply(502, f"proxy: upstream failed: {e}\n".encode())
        self.send_response(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        upstream.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = forward

    # --- tunnels ---
    def do_CONNECT(self):
        self.server.remember(f"CONNECT {self.path}")
        host, sep, port = self.path.rpartition(":")
        if not sep or not port.isdigit():
            return self.reply(400, b"CONNECT needs host:port\n")
        try:
            upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=30)
        except OSError as e:
            return self.reply(502, f"proxy: cannot connect: {e}\n".encode())
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        client = self.connection
        sel = selectors.DefaultSelector()
        sel.register(client, selectors.EVENT_READ, upstream)
        sel.register(upstream, selectors.EVENT_READ, client)
        try:
            while True:
                for key, _ in sel.select(timeout=120):
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            pass
        finally:
            sel.close()
            upstream.close()


def serve(args):
    server = ProxyServer(("127.0.0.1", args.port), args.log)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


def proxy_port():
    return int(os.environ.get("CFIAM_PROXY_PORT") or DEFAULT_PORT)


def control(path, timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", proxy_port(), timeout=timeout)
    conn.request("GET", path)
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise OSError(f"proxy answered {response.status} to {path}")
    return data


def show_log(args):
    lines = json.loads(control("/__proxy/log" + ("?keep=1" if args.keep else "")))
    mock_port = os.environ.get("CFIAM_MOCK_PORT")
    for line in lines:
        if mock_port:
            line = line.replace(f"127.0.0.1:{mock_port}", "127.0.0.1:MOCK_PORT")
        print(line)


def wait(args):
    deadline = time.monotonic() + args.timeout
    while True:
        try:
            control("/__proxy/health", timeout=2)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise OSError(f"proxy on 127.0.0.1:{proxy_port()} did not answer in {args.timeout} s")
            time.sleep(0.1)


def main():
    parser = argparse.ArgumentParser(description="HTTP forward/CONNECT proxy for the cfiam tests")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve")
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--log", default=None)
    p = sub.add_parser("log")
    p.add_argument("--keep", action="store_true")
    p = sub.add_parser("wait")
    p.add_argument("--timeout", type=float, default=10)
    args = parser.parse_args()
    try:
        if args.command == "serve":
            if args.port is None:
                args.port = proxy_port()
            serve(args)
        elif args.command == "log":
            show_log(args)
        else:
            wait(args)
    except (OSError, ValueError) as e:
        print(f"proxy.py: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
