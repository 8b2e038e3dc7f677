"""Refuse every network connection that does not stay on this machine.

Installed for the whole test session by ``tests/conftest.py``: a connection to
anything but loopback (127.0.0.0/8, ::1) or a local (Unix) socket raises
:class:`NetworkAccessError`, so any code that reaches for the internet fails
its test.  Name look-ups of non-local hosts are refused the same way.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


class NetworkAccessError(ConnectionRefusedError):
    """Raised when code under test tries to reach a non-loopback address."""


def is_loopback(host: Any) -> bool:
    """Whether ``host`` (name or address) stays on this machine."""
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode()
    host = str(host).strip("[]").split("%")[0]
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_address(family: int, address: Any) -> None:
    if family == getattr(socket, "AF_UNIX", object()):
        return
    host = address[0] if isinstance(address, tuple) else address
    if not is_loopback(host):
        raise NetworkAccessError(f"test tried to connect to {address!r}: only loopback is allowed")


def install() -> dict[str, Any]:
    """Patch ``socket`` so that non-loopback connections raise; returns the originals."""
    originals = {
        "connect": socket.socket.connect,
        "connect_ex": socket.socket.connect_ex,
        "getaddrinfo": socket.getaddrinfo,
    }

    def connect(self: socket.socket, address: Any) -> None:
        _check_address(self.family, address)
        return originals["connect"](self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _check_address(self.family, address)
        return originals["connect_ex"](self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_loopback(host):
            raise NetworkAccessError(f"test tried to resolve {host!r}: only loopback is allowed")
        return originals["getaddrinfo"](host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo
    return originals


def uninstall(originals: dict[str, Any]) -> None:
    """Undo :func:`install`."""
    socket.socket.connect = originals["connect"]  # type: ignore[method-assign]
    socket.socket.connect_ex = originals["connect_ex"]  # type: ignore[method-assign]
    socket.getaddrinfo = originals["getaddrinfo"]
