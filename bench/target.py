"""A local HTTP target for the benchmarks: answers every GET after DELAY seconds, keeps
connections alive (HTTP/1.1) and counts the connections it accepted.

Runs in a process of its own, so that its work is not counted as the probing process's
CPU time. Prints its port on the first line of stdout; ``GET /connections`` answers the
number of connections accepted so far (that request's own included).

    .venv/bin/python bench/target.py [--delay 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

_BODY = b'{"status": "UP"}'


class Target:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.connections = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1]
                if path == b"/connections":
                    body = str(self.connections).encode()
                else:
                    await asyncio.sleep(self.delay)
                    body = _BODY
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                )
                await writer.drain()
        writer.close()


async def _main(delay: float) -> None:
    target = Target(delay)
    server = await asyncio.start_server(target.serve, "127.0.0.1", 0, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


@contextlib.contextmanager
def running(delay: float) -> Iterator[int]:
    """A target in a child process for the duration of the block; yields its port."""
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--delay", str(delay)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield int(process.stdout.readline())
    finally:
        process.terminate()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.1)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(args.delay))


if __name__ == "__main__":
    main()
