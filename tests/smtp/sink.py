#!/usr/bin/python3
"""A real SMTP server on loopback for Carnet's mail tests (Debian's aiosmtpd).

Every message it accepts is written to DIR/NNNN.eml (the envelope recipients
in an X-Envelope-To header first). What it does with the next message is
read from DIR/mode at that moment, so a test can change it while running:

  accept            250: store it
  tempfail          451: refuse it for now (store nothing)
  permfail          550: refuse it for good (store nothing)
  kill PID          store it, then SIGKILL process PID before answering:
                    the mail server has the message, the sender never hears
                    so (then the mode goes back to accept)

With --tls CERT KEY, it requires STARTTLS before any mail (aiosmtpd's
require_starttls), with that certificate.

Prints "listening PORT" on stdout once it accepts connections.
"""

import asyncio
import os
import signal
import ssl
import sys

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, folder):
        self.folder = folder
        self.count = len([f for f in os.listdir(folder) if f.endswith(".eml")])

    def mode(self):
        try:
            with open(os.path.join(self.folder, "mode")) as f:
                return f.read().split()
        except FileNotFoundError:
            return ["accept"]

    def store(self, envelope):
        self.count += 1
        path = os.path.join(self.folder, "%04d.eml" % self.count)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(b"X-Envelope-To: " + ",".join(envelope.rcpt_tos).encode() + b"\r\n")
            f.write(envelope.original_content)
        os.rename(tmp, path)

    async def handle_DATA(self, server, session, envelope):
        mode = self.mode()
        if mode[:1] == ["tempfail"]:
            return "451 4.3.0 try again later"
        if mode[:1] == ["permfail"]:
            return "550 5.7.1 not accepted here"
        self.store(envelope)
        if mode[:1] == ["kill"] and len(mode) > 1:
            with open(os.path.join(self.folder, "mode"), "w") as f:
                f.write("accept")
            os.kill(int(mode[1]), signal.SIGKILL)
            await asyncio.sleep(0.5)
        return "250 2.0.0 stored"


async def main():
    folder = sys.argv[1]
    os.makedirs(folder, exist_ok=True)
    sink = Sink(folder)
    tls = {}
    if sys.argv[2:3] == ["--tls"]:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(sys.argv[3], sys.argv[4])
        tls = {"tls_context": ctx, "require_starttls": True}
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(sink, hostname="sink.test", data_size_limit=50 * 1024 * 1024, **tls),
        "127.0.0.1",
        0,
    )
    port = server.sockets[0].getsockname()[1]
    print("listening %d" % port, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
