#!/usr/bin/env python3
"""The baseline: a small asyncio agent written the way the seed article suggests (accept, read until CR,
parse, respond), answering PING with PONG and ECHO with its text, each reply followed by NUL.

Usage: baseline_agent.py PORT   (binds 127.0.0.1; prints 'listening' when ready)
"""
import asyncio
import sys


async def handle(reader, writer):
    try:
        while True:
            data = await reader.readuntil(b"\r")
            command = data[:-1].lstrip(b"\x1b").decode("utf-8", errors="replace")
            if command == "PING":
                reply = "PONG"
            elif command.startswith("ECHO "):
                reply = command[5:]
            else:
                reply = "ERR unknown command"
            writer.write(reply.encode() + b"\0")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port):
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
    print("listening", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
