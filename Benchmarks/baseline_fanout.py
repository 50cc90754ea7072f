#!/usr/bin/env python3
"""The baseline fleet run: the seed article's exchange in asyncio, bounded by a semaphore, across every device of a
plain host:port list. ESC + command + CR, readuntil(b"\\0"), close; one line of JSON with devices/s at the end.

Usage: baseline_fanout.py INVENTORY COMMAND [CONCURRENCY]
"""
import asyncio
import json
import sys
import time


async def one(sem, host, port, frame, results):
    async with sem:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
            writer.write(frame)
            await writer.drain()
            await asyncio.wait_for(reader.readuntil(b"\0"), 10)
            results["ok"] += 1
            writer.close()
        except Exception:
            results["failed"] += 1


async def main():
    path, command = sys.argv[1], sys.argv[2]
    concurrency = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    targets = []
    for line in open(path):
        line = line.strip()
        if line:
            host, port = line.rsplit(":", 1)
            targets.append((host, int(port)))
    frame = b"\x1b" + command.encode() + b"\r"
    sem = asyncio.Semaphore(concurrency)
    results = {"ok": 0, "failed": 0}
    began = time.monotonic()
    await asyncio.gather(*(one(sem, h, p, frame, results) for h, p in targets))
    took = time.monotonic() - began
    print(json.dumps({"devices": len(targets), **results, "seconds": round(took, 3), "devices_per_s": round(len(targets) / took)}))


if __name__ == "__main__":
    asyncio.run(main())
