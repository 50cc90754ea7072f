#!/usr/bin/env python3
"""The baseline simulator: what one would write in Python for a loopback fleet, one asyncio server per device
(device n at the n-th address after BASE, one port), answering PING/ID; processes of at most 12,000 devices
each, as `fleetcmd simulate` splits them.

Usage: baseline_fleet.py BASE_ADDRESS DEVICES PORT READY_FILE
Creates READY_FILE once every device listens; runs until SIGTERM.
"""
import asyncio
import ipaddress
import os
import resource
import signal
import subprocess
import sys

PER_PROCESS = 12_000


async def serve(base, first, last, port, ready):
    async def handle(reader, writer, number):
        try:
            while True:
                data = await reader.readuntil(b"\r")
                command = data[:-1].lstrip(b"\x1b")
                reply = b"PONG" if command == b"PING" else f"dev{number} #{number}".encode()
                writer.write(reply + b"\0")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    servers = []
    for number in range(first, last + 1):
        host = str(ipaddress.IPv4Address(int(base) + number))
        servers.append(await asyncio.start_server(lambda r, w, n=number: handle(r, w, n), host, port, backlog=4096))
    open(ready, "w").write("ready\n")
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    base, devices, port, ready = ipaddress.IPv4Address(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    if len(sys.argv) > 6:  # a worker: FIRST LAST
        asyncio.run(serve(base, int(sys.argv[5]), int(sys.argv[6]), port, ready))
        return
    if devices <= PER_PROCESS:
        asyncio.run(serve(base, 1, devices, port, ready))
        return
    count = -(-devices // PER_PROCESS)
    per = -(-devices // count)
    workers = []
    for i in range(count):
        first, last = i * per + 1, min(devices, (i + 1) * per)
        workers.append(subprocess.Popen([sys.executable, __file__, str(base), str(devices), str(port), f"{ready}.{i}", str(first), str(last)]))
    import time
    while not all(os.path.exists(f"{ready}.{i}") for i in range(count)):
        time.sleep(0.02)
    open(ready, "w").write("ready\n")
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    while not stopping:
        time.sleep(0.1)
    for w in workers:
        w.terminate()
    for w in workers:
        w.wait()


if __name__ == "__main__":
    main()
