"""A Nomad-shaped HTTPS server that requires a client certificate signed by the CA.

Usage: mtls_server.py CA SERVER_CERT SERVER_KEY [plain]. Prints its port. /v1/status/leader
answers like Nomad; any other GET answers JSON with a Nomad-like "config" and "member" plus the path, the
X-Nomad-Token header and the client certificate's common name. The token "bad" gets HTTP 403
as Nomad's ACLs answer. With "plain" it speaks plain HTTP on the same port.
Exits after 60 seconds so a failed test cannot leave it behind.
"""
import http.server
import json
import ssl
import sys
import threading


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        peer = self.connection.getpeercert() if hasattr(self.connection, "getpeercert") else None
        subject = dict(item[0] for item in peer["subject"]) if peer else {}
        token = self.headers.get("X-Nomad-Token")
        status = 200
        if token == "bad":
            status, body = 403, b"Permission denied"
        elif self.path.startswith("/v1/status/leader"):
            body = b'"127.0.0.1:4647"'
        else:
            body = json.dumps(
                {
                    "config": {"Version": {"Version": "1.9.3"}, "Region": "global"},
                    "member": {"Name": "server-1.global", "Port": 4648},
                    "path": self.path,
                    "token": token,
                    "client_cn": subject.get("commonName"),
                }
            ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


ca, cert, key = sys.argv[1:4]
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
if sys.argv[4:] != ["plain"]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.load_verify_locations(ca)
    context.verify_mode = ssl.CERT_REQUIRED
    server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
threading.Timer(60, server.shutdown).start()
server.serve_forever()
