"""A loopback SMTP server for the delivery benchmark (Debian's python3-aiosmtpd), driven by SmtpCountSink.cs.

Unlike the tests' smtp_sink.py it stores nothing: writing a Maildir file per message would make the server the
thing measured. For each accepted message it prints one line, "<X-Actors-Message-Key or ->\t<unix time>", and
flushes, so the benchmark can check that every key arrived exactly once and when. Both the outbox and the MailKit
reference send here in the same run.
"""
import argparse
import re
import sys
import time

from aiosmtpd.controller import Controller

KEY = re.compile(rb"^x-actors-message-key:[ \t]*([^\r\n]*?)[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)


class Counter:
    async def handle_DATA(self, server, session, envelope):
        at = time.time()
        content = envelope.original_content
        end = content.find(b"\r\n\r\n")
        # Headers only, unfolded: MimeKit folds a long header over several lines.
        head = re.sub(rb"\r\n(?=[ \t])", b"", content if end < 0 else content[:end])
        match = KEY.search(head)
        key = match.group(1).decode("utf-8", "replace") if match else "-"
        sys.stdout.write("%s\t%.6f\n" % (key, at))
        sys.stdout.flush()
        return "250 2.0.0 OK counted"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    controller = Controller(Counter(), hostname="127.0.0.1", port=args.port, enable_SMTPUTF8=True)
    controller.start()
    print("ready", flush=True)
    try:
        # Runs until the benchmark kills it, or its stdin closes (the benchmark died).
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
