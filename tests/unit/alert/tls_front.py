#!/usr/bin/env python3
"""A TLS front for the notifier's unit tests: terminates HTTPS on 127.0.0.1
(port 0, the kernel picks one) and forwards the plain bytes to a
RecordingHttpServer, which records and answers as it does for http://.

  tls_front.py --backend-port 41234 --dir /tmp/x   # runs until stdin closes

At start it makes, with `openssl req`, a self-signed certificate for
127.0.0.1 (and localhost) in --dir: cert.pem (also the CA file the notifier
is given) and key.pem; then writes the port to --dir/port. It exits when its
stdin reaches EOF, so a test that opened it with popen(..., "w") stops it with
pclose() and cannot leave it behind. Python's standard library and the openssl
command only (Debian: python3, openssl).
"""
import argparse
import os
import socket
import ssl
import subprocess
import sys
import threading


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.close()
        except OSError:
            pass


def serve(conn, ctx, backend_port):
    conn.settimeout(10)  # a stuck client cannot hold a thread for long
    try:
        tls = ctx.wrap_socket(conn, server_side=True)
    except (ssl.SSLError, OSError):
        conn.close()  # e.g. the client refused the certificate
        return
    try:
        backend = socket.create_connection(("127.0.0.1", backend_port), timeout=10)
    except OSError:
        tls.close()
        return
    threading.Thread(target=pump, args=(backend, tls), daemon=True).start()
    pump(tls, backend)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend-port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    a = ap.parse_args()
    cert, key = os.path.join(a.dir, "cert.pem"), os.path.join(a.dir, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    tmp = os.path.join(a.dir, "port.tmp")
    with open(tmp, "w") as f:
        f.write(str(listener.getsockname()[1]))
    os.rename(tmp, os.path.join(a.dir, "port"))

    def accept_loop():
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=serve, args=(conn, ctx, a.backend_port), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    sys.stdin.read()  # until the test closes the pipe
    os._exit(0)


if __name__ == "__main__":
    main()
