"""Linux's own change notifications, pushed: netlink, through the standard library's ``socket``.

Two sockets, one thread blocked in ``select()`` on both (and on a pipe that stops it), so it
costs no wake-up while nothing changes:

* ``NETLINK_ROUTE`` joined to the link, address and route multicast groups (IPv4 and IPv6): an
  interface going up or down, an address or a default route added or removed (what
  NetworkManager, dhcpcd, ``ip route`` and a modem's ppp do when the network comes or goes);
* ``NETLINK_KOBJECT_UEVENT``: the kernel's uevents, of which those with
  ``SUBSYSTEM=power_supply`` (a charger plugged in or out, a battery's status) count.

A burst of messages (a link coming up brings its address and routes) is read to its end and
reported as one change. Only what the kernel sends is trusted: each message's sender port id
must be 0. Where a socket cannot be opened (not Linux, a sandbox without netlink), the listener
does not start and the probe polls as before.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import struct
import threading
from collections.abc import Callable

__all__ = ["NetlinkListener", "relevant_route_message", "relevant_uevent"]

_log = logging.getLogger(__name__)

NETLINK_ROUTE = 0
NETLINK_KOBJECT_UEVENT = 15
# rtnetlink multicast groups (linux/rtnetlink.h: RTMGRP_*)
_RTMGRP_LINK = 0x1
_RTMGRP_IPV4_IFADDR = 0x10
_RTMGRP_IPV4_ROUTE = 0x40
_RTMGRP_IPV6_IFADDR = 0x100
_RTMGRP_IPV6_ROUTE = 0x400
ROUTE_GROUPS = (
    _RTMGRP_LINK | _RTMGRP_IPV4_IFADDR | _RTMGRP_IPV4_ROUTE | _RTMGRP_IPV6_IFADDR | _RTMGRP_IPV6_ROUTE
)
_UEVENT_KERNEL_GROUP = 1
# message types (linux/rtnetlink.h): RTM_NEWLINK .. RTM_DELROUTE
_ROUTE_TYPES = frozenset({16, 17, 20, 21, 24, 25})
_NLMSGHDR = struct.Struct("=IHHII")  # length, type, flags, sequence, sender port id
_BUFFER = 65536


def relevant_route_message(data: bytes) -> bool:
    """Whether a ``NETLINK_ROUTE`` datagram holds a link, address or route change."""
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length, kind, _flags, _seq, _port = _NLMSGHDR.unpack_from(data, offset)
        if kind in _ROUTE_TYPES:
            return True
        if length < _NLMSGHDR.size:
            return False
        offset += (length + 3) & ~3  # NLMSG_ALIGN
    return False


def relevant_uevent(data: bytes) -> bool:
    """Whether a kernel uevent (``ACTION@DEVPATH\\0KEY=VALUE\\0...``) is a power supply's."""
    return b"\0SUBSYSTEM=power_supply\0" in data + b"\0"


class NetlinkListener:
    """Calls ``on_change()`` after each burst of relevant kernel messages, from its own thread."""

    def __init__(self, on_change: Callable[[], None]) -> None:
        self._on_change = on_change
        self._sockets: list[tuple[socket.socket, Callable[[bytes], bool]]] = []
        self._stop_read, self._stop_write = -1, -1
        self._thread: threading.Thread | None = None

    def start(self) -> str | None:
        """Open the sockets and start the thread; what runs (``"netlink"``, or
        ``"netlink (routes only)"`` without uevents), or None when netlink is unavailable."""
        family = getattr(socket, "AF_NETLINK", None)
        if family is None:
            return None
        opened: list[tuple[socket.socket, Callable[[bytes], bool]]] = []
        for protocol, groups, relevant in (
            (NETLINK_ROUTE, ROUTE_GROUPS, relevant_route_message),
            (NETLINK_KOBJECT_UEVENT, _UEVENT_KERNEL_GROUP, relevant_uevent),
        ):
            try:
                sock = socket.socket(family, socket.SOCK_RAW | socket.SOCK_CLOEXEC, protocol)
            except OSError:
                _log.debug("netlink protocol %d unavailable", protocol, exc_info=True)
                continue
            try:
                sock.bind((0, groups))
                sock.setblocking(False)
            except OSError:
                _log.debug("netlink protocol %d: cannot join its groups", protocol, exc_info=True)
                sock.close()
                continue
            opened.append((sock, relevant))
        if not opened or opened[0][1] is not relevant_route_message:
            for sock, _ in opened:
                sock.close()
            return None  # without route changes the network's return would still be polled
        self._sockets = opened
        self._stop_read, self._stop_write = os.pipe()
        self._thread = threading.Thread(target=self._run, name="edgetrack-netlink", daemon=True)
        self._thread.start()
        return "netlink" if len(opened) == 2 else "netlink (routes only)"

    def stop(self) -> None:
        """Stop the thread (it wakes on the pipe) and close the sockets."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        try:
            os.write(self._stop_write, b"x")
        except OSError:
            pass
        if thread is not threading.current_thread():
            thread.join(2.0)
        self._close()

    def forget(self) -> None:
        """In a forked child: the thread is the parent's; close our copies of the descriptors."""
        self._thread = None
        self._close()

    def _close(self) -> None:
        for sock, _ in self._sockets:
            sock.close()
        self._sockets = []
        for fd in (self._stop_read, self._stop_write):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._stop_read = self._stop_write = -1

    def _run(self) -> None:
        by_fd = {sock.fileno(): (sock, relevant) for sock, relevant in self._sockets}
        watched = [*by_fd, self._stop_read]
        while True:
            try:
                readable, _, _ = select.select(watched, [], [])  # blocks: no timeout, no wake-ups
            except (OSError, ValueError):
                return  # closed under us (stop() or a fork's forget())
            if self._stop_read in readable:
                return
            changed = False
            for fd in readable:
                sock, relevant = by_fd[fd]
                changed = self._drain(sock, relevant) or changed
            if changed:
                try:
                    self._on_change()
                except Exception:
                    _log.warning("edgetrack: a power change callback raised; ignored", exc_info=True)

    @staticmethod
    def _drain(sock: socket.socket, relevant: Callable[[bytes], bool]) -> bool:
        """Read every datagram waiting; whether any was a relevant one from the kernel."""
        found = False
        while True:
            try:
                data, sender = sock.recvfrom(_BUFFER)
            except BlockingIOError:
                return found
            except OSError as exc:  # ENOBUFS: messages were lost, so something changed
                _log.debug("netlink receive failed: %s", exc)
                return True
            if sender[0] == 0 and not found:  # port id 0: the kernel, not another process
                found = relevant(data)
