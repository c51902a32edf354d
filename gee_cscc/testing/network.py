"""Tests that cannot reach the network: only the loopback range answers.

:func:`block_network` patches ``socket.create_connection``, ``socket.getaddrinfo`` and
``socket.socket.connect``/``connect_ex`` so that anything but 127.0.0.0/8, ::1 and
``localhost`` raises :class:`NetworkBlockedError` (and is recorded), then restores them.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

__all__ = ["NetworkBlockedError", "NetworkBlocker", "block_network"]


class NetworkBlockedError(RuntimeError):
    """A test tried to reach an address that is not on this machine's loopback."""


def _is_loopback(host: Any) -> bool:
    if host is None or host == "" or host == b"":
        return True  # a passive (bind) lookup, not a connection
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    text = str(host).strip("[]").lower()
    if text in ("localhost", "ip6-localhost", "ip6-loopback"):
        return True
    try:
        return ipaddress.ip_address(text.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class NetworkBlocker:
    """Refuses connections and name look-ups for anything but the loopback range.

    Attributes
    ----------
    attempts
        Every refused host, in order (a test can check that none were made).
    """

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self._saved: list[tuple[Any, str, Any]] = []

    def _refuse(self, host: Any, what: str) -> None:
        self.attempts.append(str(host))
        raise NetworkBlockedError(
            f"Network access is blocked in tests: {what} to {host!r} (only 127.0.0.0/8, "
            "::1 and localhost are allowed)."
        )

    def install(self) -> None:
        """Patch ``socket.create_connection``, ``socket.getaddrinfo`` and ``socket.connect``."""
        if self._saved:
            return
        real_create = socket.create_connection
        real_getaddrinfo = socket.getaddrinfo
        real_connect = socket.socket.connect
        real_connect_ex = socket.socket.connect_ex
        blocker = self

        def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
            if not _is_loopback(address[0]):
                blocker._refuse(address[0], "create_connection")
            return real_create(address, *args, **kwargs)

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> list:
            if not _is_loopback(host):
                blocker._refuse(host, "getaddrinfo")
            return real_getaddrinfo(host, *args, **kwargs)

        def _check_address(sock: socket.socket, address: Any) -> None:
            if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
                blocker._refuse(address[0], "connect")

        def connect(sock: socket.socket, address: Any) -> None:
            _check_address(sock, address)
            return real_connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> int:
            _check_address(sock, address)
            return real_connect_ex(sock, address)

        self._saved = [
            (socket, "create_connection", real_create),
            (socket, "getaddrinfo", real_getaddrinfo),
            (socket.socket, "connect", real_connect),
            (socket.socket, "connect_ex", real_connect_ex),
        ]
        socket.create_connection = create_connection  # type: ignore[assignment]
        socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
        socket.socket.connect = connect  # type: ignore[method-assign]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]

    def uninstall(self) -> None:
        """Restore the original socket functions."""
        for owner, attr, original in reversed(self._saved):
            setattr(owner, attr, original)
        self._saved = []


@contextlib.contextmanager
def block_network() -> Iterator[NetworkBlocker]:
    """Block every non-loopback connection and DNS look-up inside the block.

    Blocked calls raise :class:`NetworkBlockedError` and are recorded in the yielded
    blocker's ``attempts``.
    """
    blocker = NetworkBlocker()
    blocker.install()
    try:
        yield blocker
    finally:
        blocker.uninstall()
