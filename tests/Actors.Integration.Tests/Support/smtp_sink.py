"""A loopback SMTP server for tests (Debian's python3-aiosmtpd), driven by SmtpSink.cs.

Accepted messages go into a Maildir, each prefixed with X-Sink-Envelope-From/X-Sink-Envelope-To headers. Recipients
choose the server's answer by their local part: reject... gets 550 (mailbox unavailable), quote... gets 550 quoting the
address (as many servers do), defer... gets 451 (try later).
With --auth USER:PASSWORD the server requires that login (AUTH PLAIN/LOGIN, allowed without TLS on loopback).
"""
import argparse
import asyncio
import mailbox
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, maildir):
        self.box = mailbox.Maildir(maildir, create=True)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("quote"):
            return "550 5.1.1 <{}>: Recipient address rejected: User unknown".format(address)
        if local.startswith("reject"):
            return "550 5.1.1 Mailbox unavailable"
        if local.startswith("defer"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        head = "X-Sink-Envelope-From: {}\r\nX-Sink-Envelope-To: {}\r\n".format(envelope.mail_from, ", ".join(envelope.rcpt_tos))
        # Maildir writes to tmp/ and moves into new/: a reader never sees half a message.
        key = self.box.add(head.encode("utf-8") + envelope.original_content)
        return "250 2.0.0 OK queued as " + key


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password
        return AuthResult(success=ok, handled=False)  # unhandled: the server answers 535 itself
    return check


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--maildir", required=True)
    parser.add_argument("--auth")
    args = parser.parse_args()
    options = dict(enable_SMTPUTF8=True)
    if args.auth:
        user, password = args.auth.split(":", 1)
        options.update(authenticator=authenticator(user, password), auth_required=True, auth_require_tls=False)
    controller = Controller(Sink(args.maildir), hostname="127.0.0.1", port=args.port, **options)
    controller.start()
    print("ready", flush=True)
    try:
        # Runs until the test kills it, or its stdin closes (the test process died).
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
