#!/usr/bin/python3
"""s3-proxy.py: an HTTP/1.1 relay between s3-put and a real S3 store, for
the faults a store cannot be asked to make.

usage: s3-proxy.py LISTEN_PORT UPSTREAM_PORT CONTROL_FILE CAPTURE_FILE

Prints "port N" once listening. Each request is relayed on a connection of
its own (the client's is closed after the answer). Before each request it
reads CONTROL_FILE, lines of "ACTION REGEX" matched against the request
line ("PUT /bucket/key?partNumber=2&uploadId=... HTTP/1.1"):
  corrupt REGEX   flips one byte in the middle of the body: the signature
                  still holds (x-amz-content-sha256 is what was signed), the
                  bytes the store gets are not the ones sent
  drop REGEX      closes both connections half-way through the body, as a
                  store that stops mid-part
  fail503 REGEX   answers 503 SlowDown itself, the store never asked
The first matching line counts. Every request's head (method, path, header
names and the SSE headers' values; never Authorization) is appended to
CAPTURE_FILE.
"""
import re
import socket
import sys
import threading

LISTEN, UPSTREAM = int(sys.argv[1]), int(sys.argv[2])
CONTROL, CAPTURE = sys.argv[3], sys.argv[4]
lock = threading.Lock()


def rules():
    try:
        with open(CONTROL) as f:
            return [l.split(None, 1) for l in f.read().splitlines()
                    if l.strip()]
    except FileNotFoundError:
        return []


def read_head(conn, buf):
    while b"\r\n\r\n" not in buf:
        data = conn.recv(65536)
        if not data:
            return None, buf
        buf += data
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def read_exact(conn, buf, n):
    while len(buf) < n:
        data = conn.recv(min(1 << 20, n - len(buf)))
        if not data:
            raise ConnectionError("short body")
        buf += data
    return buf[:n], buf[n:]


def capture(lines):
    keep = [lines[0]]
    for l in lines[1:]:
        name = l.split(":", 1)[0].strip().lower()
        if name == "authorization":
            continue
        if name.startswith("x-amz-server-side-encryption") or \
                name in ("if-none-match", "content-md5"):
            keep.append(l)
        else:
            keep.append(name)
    with lock, open(CAPTURE, "a") as f:
        f.write("\n".join(keep) + "\n\n")


def handle(client):
    try:
        head, rest = read_head(client, b"")
        if head is None:
            return
        lines = head.split("\r\n")
        request = lines[0]
        headers = lines[1:]
        length = 0
        expect = False
        out = [request]
        for l in headers:
            name, _, value = l.partition(":")
            n = name.strip().lower()
            if n == "content-length":
                length = int(value.strip())
            if n == "expect":
                expect = True
                continue
            if n == "connection":
                continue
            out.append(l)
        out.append("Connection: close")
        capture(lines)
        action = None
        for r in rules():
            if len(r) == 2 and re.search(r[1], request):
                action = r[0]
                break
        if action == "fail503":
            body = (b'<?xml version="1.0" encoding="UTF-8"?><Error>'
                    b'<Code>SlowDown</Code></Error>')
            client.sendall(b"HTTP/1.1 503 Slow Down\r\nContent-Length: " +
                           str(len(body)).encode() +
                           b"\r\nConnection: close\r\n\r\n" + body)
            return
        if expect:
            client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        up = socket.create_connection(("127.0.0.1", UPSTREAM))
        up.sendall(("\r\n".join(out) + "\r\n\r\n").encode("latin-1"))
        if action == "drop":
            half, rest = read_exact(client, rest, length // 2)
            up.sendall(half)
            up.close()
            client.shutdown(socket.SHUT_RDWR)
            return
        body, rest = read_exact(client, rest, length)
        if action == "corrupt" and length > 0:
            b = bytearray(body)
            b[length // 2] ^= 0x01
            body = bytes(b)
        up.sendall(body)
        while True:
            data = up.recv(65536)
            if not data:
                break
            client.sendall(data)
        up.close()
    except (ConnectionError, OSError):
        pass
    finally:
        client.close()


def main():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", LISTEN))
    s.listen(64)
    print("port %d" % s.getsockname()[1], flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


main()
