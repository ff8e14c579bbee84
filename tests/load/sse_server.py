"""A tiny exact-schedule SSE server for the load tests (asyncio, in a thread, 127.0.0.1 only).

Token i (0-based) of a stream is written at send + ttft + i * itl (absolute schedule). The model name
selects a behaviour: "exact", "reasoning" (half the tokens as reasoning_content), "multi" (4 tokens per
chunk with per-chunk usage), "http-429", "stream-error", "no-done", "truncate", "stall", "close-headers".
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any


class ExactServer:
    """Serves POST .../chat/completions and .../completions as chunked SSE on an ephemeral port."""

    def __init__(self, ttft_ms: float = 100.0, itl_ms: float = 10.0, stall_s: float = 5.0) -> None:
        self.ttft = ttft_ms / 1000
        self.itl = itl_ms / 1000
        self.stall_s = stall_s
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.port = 0

    def start(self) -> str:
        """Start serving; returns the base URL (``http://127.0.0.1:PORT/v1``)."""
        self._thread.start()
        server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0), self.loop
        ).result(5)
        self._server = server
        self.port = server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        """Cancel every connection, stop and close the loop."""

        async def shutdown() -> None:
            self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                t_send = time.perf_counter()
                length = 0
                for line in head.decode().split("\r\n")[1:]:
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                body = json.loads(await reader.readexactly(length)) if length else {}
                keep = await self._respond(writer, head.split(b" ")[1].decode(), body, t_send)
                if not keep:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _respond(self, w: asyncio.StreamWriter, path: str, body: dict[str, Any], t0: float) -> bool:
        model = str(body.get("model", "exact"))
        n = int(body.get("max_tokens") or 16)
        chat = path.endswith("/chat/completions")
        if model == "http-429":
            err = json.dumps(
                {"error": {"message": "rate limited", "type": "rate_limit", "code": 429}}
            ).encode()
            w.write(
                b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(err), err)
            )
            await w.drain()
            return True
        if model == "close-headers":
            return False
        w.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        await w.drain()

        def event(obj: Any) -> bytes:
            data = b"data: " + (obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + b"\n\n"
            return b"%x\r\n%s\r\n" % (len(data), data)

        def chunk(delta: dict[str, Any], usage: int | None = None, finish: str | None = None) -> dict[str, Any]:
            c: dict[str, Any] = {
                "id": "x",
                "object": "chat.completion.chunk",
                "choices": [
                    {"index": 0, "delta": delta, "finish_reason": finish}
                    if chat
                    else {"index": 0, "text": delta.get("content", ""), "finish_reason": finish}
                ],
            }
            if usage is not None:
                c["usage"] = {"prompt_tokens": 5, "completion_tokens": usage, "total_tokens": 5 + usage}
            return c

        if chat:
            w.write(event(chunk({"role": "assistant", "content": ""})))
        per = 4 if model == "multi" else 1
        emitted = 0
        i = 0
        while emitted < n:
            k = min(per, n - emitted)
            due = t0 + self.ttft + (emitted + k - 1) * self.itl
            await asyncio.sleep(max(due - time.perf_counter(), 0))
            if model == "stream-error" and emitted == 2:
                w.write(event({"error": {"message": "overloaded mid-stream", "type": "server_error"}}))
                break
            if model == "truncate" and emitted == 2:
                w.write(b'40\r\ndata: {"choices"')
                await w.drain()
                return False
            if model == "stall" and emitted == 1:
                await asyncio.sleep(self.stall_s)
                return False
            reasoning = model == "reasoning" and emitted < n // 2
            text = " tok" * k
            delta = {"reasoning_content": text} if reasoning else {"content": text}
            emitted += k
            finish = "length" if emitted >= n else None  # the last chunk ends the choice (one finish_reason)
            w.write(event(chunk(delta, emitted if model == "multi" else None, finish)))
            await w.drain()
            i += 1
        if model != "stream-error":
            final = {
                "id": "x",
                "choices": [],
                "usage": {"prompt_tokens": 5, "completion_tokens": emitted, "total_tokens": 5 + emitted},
            }
            w.write(event(final))
        if model != "no-done":
            w.write(event(b"[DONE]"))
        w.write(b"0\r\n\r\n")
        await w.drain()
        return True
