"""A loopback TCP forwarder that can cut the line: a database outage, seen from the app.

    with TcpProxy(("127.0.0.1", 5432)) as proxy:   # the app connects to proxy.port
        ...
        proxy.cut()      # every open connection is reset and new ones are refused
        ...
        proxy.restore()  # the same port accepts again

From the app's side a cut is what a stopped or unreachable database server looks like: the
connections in its pool break and new ones are refused. The real server behind the proxy is
untouched, so other users of it (and the other tests) carry on. Used by the stack tests and the
failure drills (`make drills`).
"""

from __future__ import annotations

import socket
import struct
import threading


class TcpProxy:
    def __init__(self, upstream: tuple[str, int], port: int = 0):
        self.upstream = upstream
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self.port = port
        self.restore()

    # -- control -----------------------------------------------------------------------------
    def restore(self) -> None:
        """Accept connections (again) on the same port."""
        if self._listener is not None:
            return
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Refuse new connections and reset every open one (each pump closes its own sockets,
        so no descriptor is closed under a thread that still reads it)."""
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._open = self._open, set()
        if listener is not None:
            _close(listener)
        for sock in sockets:
            _abort(sock)

    def close(self) -> None:
        self.cut()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- forwarding --------------------------------------------------------------------------
    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # the listener was closed by cut()
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                _abort(client)
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:  # cut while connecting
                    for sock in (client, server):
                        _abort(sock)
                        sock.close()
                    return
                self._open.update((client, server))
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                aborted = source not in self._open
                self._open.discard(source)
                self._open.discard(target)
            if aborted:  # cut(): reset both ends
                source.close()
                target.close()
            else:  # one side ended its connection: pass the end on
                _close(source)
                _close(target)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def _abort(sock: socket.socket) -> None:
    """Make the coming close() send RST (SO_LINGER 0), as a server that went away does, and
    wake the pump reading it (SHUT_RD sends nothing to the peer); the pump then closes it."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass
