#!/usr/bin/python3
"""A loopback SMTP server for the schedfeed tests, on aiosmtpd.

    smtpd.py --port N --maildir DIR [--tls starttls|implicit|none]
             [--cert PEM --key KEY] [--no-require-starttls]
             [--reject ADDR ...] [--defer ADDR ...] [--auth-exclude MECH ...]
             [--data-fail reject|hang] [--silent]

Authentication: when SMTPD_USER and SMTPD_PASSWORD are set, AUTH PLAIN and
LOGIN are offered (only under TLS unless --tls none) and required before
MAIL FROM; anything else is refused with 535.  --auth-exclude PLAIN leaves
only LOGIN on offer (and the other way round).

Each accepted message is written to DIR as N.eml (the bytes exactly as
received) and N.json (envelope: mail_from, rcpt_tos, the authenticated login,
whether the session was under TLS), each complete before it appears.
--reject ADDR answers RCPT TO:<ADDR> with 550, --defer ADDR with 450.
--data-fail reject answers the end of DATA with 554 and keeps nothing;
--data-fail hang keeps the message and never answers (the client cannot know
whether it was delivered).  --silent accepts connections
and never says a word (for timeout tests).  Prints "ready PORT" on stdout
once it is listening; stops on SIGTERM or SIGINT.
"""

import argparse
import asyncio
import itertools
import json
import logging
import os
import signal
import socket
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, maildir, reject, defer, data_fail):
        self.maildir = maildir
        self.reject = {a.lower() for a in reject}
        self.defer = {a.lower() for a in defer}
        self.data_fail = data_fail
        self.counter = itertools.count(1)

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        if address.lower() in self.reject:
            return "550 5.1.1 Recipient address rejected"
        if address.lower() in self.defer:
            return "450 4.2.1 Mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_fail == "reject":
            return "554 5.6.0 Message content rejected"
        n = next(self.counter)
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "login": (session.auth_data.login.decode()
                      if isinstance(session.auth_data, LoginPassword)
                      else None),
            "tls": session.ssl is not None or server.transport.
            get_extra_info("sslcontext") is not None,
        }
        write_whole(os.path.join(self.maildir, "%d.eml" % n),
                    envelope.original_content)
        write_whole(os.path.join(self.maildir, "%d.json" % n),
                    json.dumps(meta).encode())
        if self.data_fail == "hang":
            await asyncio.sleep(3600)
        return "250 2.0.0 Message accepted for delivery"


def write_whole(path, data):
    tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path))
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


def make_authenticator(user, password):
    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login == user.encode()
              and auth_data.password == password.encode())
        # handled=False: aiosmtpd itself answers a failure with 535.
        return AuthResult(success=ok, handled=False,
                          auth_data=auth_data if ok else None)
    return authenticator


def serve_silent(host, port):
    """Accepts connections and holds them open without a greeting."""
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((host, port))
    lsock.listen(8)
    held = []

    def accept():
        while True:
            conn, _ = lsock.accept()
            held.append(conn)
    threading.Thread(target=accept, daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--maildir")
    ap.add_argument("--tls", choices=["starttls", "implicit", "none"],
                    default="starttls")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--no-require-starttls", action="store_true")
    ap.add_argument("--reject", action="append", default=[])
    ap.add_argument("--defer", action="append", default=[])
    ap.add_argument("--data-fail", choices=["reject", "hang"])
    ap.add_argument("--auth-exclude", action="append", default=[])
    ap.add_argument("--silent", action="store_true")
    args = ap.parse_args()
    # aiosmtpd logs each session (and deprecation notes) at INFO/WARNING.
    logging.getLogger("mail.log").setLevel(logging.ERROR)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    if args.silent:
        serve_silent(args.host, args.port)
        print("ready %d" % args.port, flush=True)
        stop.wait()
        return 0

    if not args.maildir:
        ap.error("--maildir is required")
    kwargs = {"hostname": args.host, "port": args.port,
              "server_hostname": "smtpd.test", "enable_SMTPUTF8": False}
    context = None
    if args.tls != "none":
        if not (args.cert and args.key):
            ap.error("--tls %s needs --cert and --key" % args.tls)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
    if args.tls == "starttls":
        kwargs["tls_context"] = context
        kwargs["require_starttls"] = not args.no_require_starttls
    elif args.tls == "implicit":
        kwargs["ssl_context"] = context

    user = os.environ.get("SMTPD_USER")
    password = os.environ.get("SMTPD_PASSWORD")
    if user and password:
        kwargs["authenticator"] = make_authenticator(user, password)
        kwargs["auth_required"] = True
        # aiosmtpd counts only STARTTLS as TLS; implicit TLS is TLS too.
        kwargs["auth_require_tls"] = args.tls == "starttls"
        kwargs["auth_exclude_mechanism"] = args.auth_exclude

    controller = Controller(Handler(args.maildir, args.reject, args.defer,
                                 args.data_fail), **kwargs)
    controller.start()
    print("ready %d" % args.port, flush=True)
    stop.wait()
    controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
