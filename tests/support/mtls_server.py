"""A Nomad-shaped HTTPS server that requires a client certificate signed by the CA.

Usage: mtls_server.py CA SERVER_CERT SERVER_KEY. Prints its port, then answers each GET with
JSON naming the path, the X-Nomad-Token header and the client certificate's common name.
Exits after 60 seconds so a failed test cannot leave it behind.
"""
import http.server
import json
import ssl
import sys
import threading


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        subject = dict(item[0] for item in self.connection.getpeercert()["subject"])
        body = json.dumps(
            {
                "path": self.path,
                "token": self.headers.get("X-Nomad-Token"),
                "client_cn": subject.get("commonName"),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


ca, cert, key = sys.argv[1:4]
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
context.load_verify_locations(ca)
context.verify_mode = ssl.CERT_REQUIRED
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
threading.Timer(60, server.shutdown).start()
server.serve_forever()
