"""A loopback TCP proxy that misbehaves on purpose: the network between marketd and an ERP.

It sits in front of a real SSH server and forwards bytes, except when told to:

- ``rate``: forward at most this many bytes per second in each direction (a slow link);
- ``cut_after``: close both sides once this many bytes went server->client (or client->server
  with ``cut_upstream``) on one connection (a connection dropped mid-transfer);
- ``stall``: stop forwarding (both sockets stay open, nothing moves: a hung link).

Settings are read at every chunk, so a test can change them while a transfer runs.
"""
from __future__ import annotations

import socket
import threading
import time


class FaultProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.rate: float | None = None
        self.cut_after: int | None = None
        self.cut_upstream = False
        self.stall = False
        self.cuts = 0
        self.connections = 0
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="faultproxy", daemon=True)
        self._thread.start()

    def healthy(self) -> None:
        self.rate = self.cut_after = None
        self.cut_upstream = self.stall = False

    def close(self) -> None:
        self._stop.set()
        try:
            self._listener.close()
        except OSError:
            pass
        self.drop_all()

    def drop_all(self) -> None:
        with self._lock:
            socks, self._socks = self._socks, []
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=10)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            self.connections += 1
            with self._lock:
                self._socks += [client, server]
            state = {"down": 0, "up": 0, "dead": False}
            for src, dst, direction in ((client, server, "up"), (server, client, "down")):
                threading.Thread(target=self._pump, args=(src, dst, direction, state), daemon=True).start()

    def _kill(self, *socks) -> None:
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _pump(self, src: socket.socket, dst: socket.socket, direction: str, state: dict) -> None:
        try:
            while not state["dead"]:
                while self.stall and not state["dead"] and not self._stop.is_set():
                    time.sleep(0.05)
                chunk = 16384 if not self.rate else max(1, min(16384, int(self.rate / 20)))
                data = src.recv(chunk)
                if not data:
                    break
                counted = direction == ("up" if self.cut_upstream else "down")
                if counted and self.cut_after is not None and state[direction] + len(data) > self.cut_after:
                    keep = max(0, self.cut_after - state[direction])
                    if keep:
                        dst.sendall(data[:keep])
                    state["dead"] = True
                    self.cuts += 1
                    self._kill(src, dst)
                    return
                state[direction] += len(data)
                while self.stall and not state["dead"] and not self._stop.is_set():
                    time.sleep(0.05)
                dst.sendall(data)
                if self.rate:
                    time.sleep(len(data) / self.rate)
        except OSError:
            pass
        finally:
            state["dead"] = True
            self._kill(src, dst)
