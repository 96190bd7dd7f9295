"""A fast keep-alive HTTP receiver for scripts/bench: answers every POST
with 200 and counts them. asyncio, stdlib only; not a test."""
import asyncio
import sys

count = 0


async def handle(reader, writer):
    global count
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            count += 1
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def report(path):
    while True:
        with open(path + ".tmp", "w") as f:
            f.write(str(count))
        import os
        os.replace(path + ".tmp", path)
        await asyncio.sleep(0.05)


async def main():
    port, count_file = int(sys.argv[1]), sys.argv[2]
    server = await asyncio.start_server(handle, "127.0.0.1", port, limit=1 << 22)
    asyncio.ensure_future(report(count_file))
    async with server:
        await server.serve_forever()


asyncio.run(main())
