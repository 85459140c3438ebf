"""Read the kernel's TCP socket table of the current network namespace.

Two readers return the same records:

* :func:`read_netlink` asks the kernel over ``NETLINK_SOCK_DIAG`` (what ``ss`` does). The kernel
  filters out TIME_WAIT itself and sends fixed binary records, so this is the fast path on hosts
  with tens of thousands of sockets; ``bench/ports.py`` measures it.
* :func:`read_procfs` parses ``/proc/net/tcp`` and ``/proc/net/tcp6``; slower at scale, it is the
  fallback where netlink is refused (some sandboxes forbid ``AF_NETLINK``).
"""

from __future__ import annotations

import errno
import functools
import os
import socket
import struct
from collections.abc import Sequence
from enum import IntEnum
from typing import NamedTuple

from polarstack.errors import HostAccessError


class TcpState(IntEnum):
    """TCP states as the kernel numbers them (include/net/tcp_states.h)."""

    ESTABLISHED = 1
    SYN_SENT = 2
    SYN_RECV = 3
    FIN_WAIT1 = 4
    FIN_WAIT2 = 5
    TIME_WAIT = 6
    CLOSE = 7
    CLOSE_WAIT = 8
    LAST_ACK = 9
    LISTEN = 10
    CLOSING = 11
    NEW_SYN_RECV = 12
    # Bound but neither listening nor connected; dumped by kernels >= 6.5 only.
    BOUND_INACTIVE = 13


class RawSocket(NamedTuple):
    """One row of the kernel's socket table (internal: a tuple, since there may be 100,000)."""

    family: int
    state: int
    address: str
    port: int
    inode: int


# Every state but TIME_WAIT: a TIME_WAIT entry holds no port a new listener cannot take.
_STATES_MASK = 0xFFFFFFFF & ~(1 << TcpState.TIME_WAIT)

_TCPDIAG_GETSOCK = 18
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST = 0x1
_NLM_F_DUMP = 0x300
_NLMSG_ERROR = 2
_NLMSG_DONE = 3
_NETLINK_SOCK_DIAG = 4
_INET_DIAG_REQ_BYTECODE = 1
_BC_JMP, _BC_S_GE, _BC_S_LE = 1, 2, 3
_NLMSG_HDR = struct.Struct("=IHHII")
_NLATTR = struct.Struct("=HH")
_BC_OP = struct.Struct("=BBH")
# family, protocol, ext, pad, states, then inet_diag_sockid (sport, dport, src, dst, if, cookie)
_REQ = struct.Struct("=BBBBI4x16s16sI8x")
# The older request: family, src_len, dst_len, ext, inet_diag_sockid, states, dbug
_REQ_COMPAT = struct.Struct("=BBBB4x16s16sI8xII")
# One reply: nlmsghdr (length, type, flags, seq, pid), then inet_diag_msg: family, state,
# (timer, retrans), sport in network order (read little-endian, swapped below), (dport),
# src address, (dst, if, cookie, expires, rqueue, wqueue, uid), inode.
_REPLY = struct.Struct("<IH2xI4xBB2xH2x16s16x4x8x4x4x4x4xI")
_RECV_BUFFER = 1 << 20
# Above this many merged ranges the filter program would outgrow its u16 length field;
# the kernel then sends everything and the caller filters.
_MAX_FILTER_RANGES = 1000


def read_netlink(port_ranges: Sequence[tuple[int, int]] = ()) -> list[RawSocket]:
    """Return the sockets that hold TCP ports, IPv4 and IPv6, over netlink sock_diag.

    Two dumps: first the listeners, then every other state but TIME_WAIT on ports no
    listener holds. A connection a listener accepted shares the listener's port, so it says
    nothing new about which ports are held; on a database host those are most sockets, and
    leaving them in the kernel is most of the speed. With ``port_ranges`` (inclusive,
    sorted, disjoint) the kernel also leaves out sockets outside them.

    Raises:
        OSError: netlink is not available here; callers fall back to :func:`read_procfs`.
    """
    wanted = list(port_ranges) or [(1, 65535)]
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_SOCK_DIAG) as sock:
        listeners = _dump(sock, 1 << TcpState.LISTEN, wanted, seq=1)
        rest = _subtract(wanted, {raw.port for raw in listeners})
        others = _dump(sock, _STATES_MASK & ~(1 << TcpState.LISTEN), rest, seq=4) if rest else []
    if len(rest) > _MAX_FILTER_RANGES:  # the kernel could not filter: do it here
        held = {raw.port for raw in listeners}
        others = [raw for raw in others if raw.port not in held]
    return listeners + others


def _dump(
    sock: socket.socket, states: int, port_ranges: Sequence[tuple[int, int]], *, seq: int
) -> list[RawSocket]:
    """Dump sockets in ``states`` on ``port_ranges``, both families.

    The older TCPDIAG_GETSOCK request is answered for IPv4 and IPv6 in one walk of the
    kernel's hash tables; the per-family request walks them once per family, which on a busy
    host doubles the cost. Kernels that refuse the old request get the per-family one.
    """
    attribute = _port_filter(port_ranges)
    rows: list[RawSocket] = []
    request = _REQ_COMPAT.pack(socket.AF_INET, 0, 0, 0, b"", b"", 0, states, 0) + attribute
    try:
        _request(sock, _TCPDIAG_GETSOCK, request, seq, rows)
        return rows
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOENT, errno.EOPNOTSUPP):
            raise
    rows.clear()
    for family_seq, family in enumerate((socket.AF_INET, socket.AF_INET6), start=seq + 1):
        request = _REQ.pack(family, socket.IPPROTO_TCP, 0, 0, states, b"", b"", 0) + attribute
        _request(sock, _SOCK_DIAG_BY_FAMILY, request, family_seq, rows)
    return rows


def _request(sock: socket.socket, kind: int, body: bytes, seq: int, out: list[RawSocket]) -> None:
    header = _NLMSG_HDR.pack(
        _NLMSG_HDR.size + len(body), kind, _NLM_F_REQUEST | _NLM_F_DUMP, seq, 0
    )
    sock.sendall(header + body)
    _receive_dump(sock, seq, out)


def _subtract(ranges: Sequence[tuple[int, int]], ports: set[int]) -> list[tuple[int, int]]:
    """Return ``ranges`` with ``ports`` cut out, still sorted and disjoint."""
    pieces = []
    holes = sorted(ports)
    index = 0
    for start, end in ranges:
        while index < len(holes) and holes[index] < start:
            index += 1
        low = start
        while index < len(holes) and holes[index] <= end:
            if holes[index] > low:
                pieces.append((low, holes[index] - 1))
            low = holes[index] + 1
            index += 1
        if low <= end:
            pieces.append((low, end))
    return pieces


def without_accepted(rows: Sequence[RawSocket]) -> list[RawSocket]:
    """Drop non-listening sockets on ports a listener holds, as :func:`read_netlink` does."""
    held = {raw.port for raw in rows if raw.state == TcpState.LISTEN}
    return [raw for raw in rows if raw.state == TcpState.LISTEN or raw.port not in held]


def _port_filter(port_ranges: Sequence[tuple[int, int]]) -> bytes:
    """Return an INET_DIAG_REQ_BYTECODE attribute accepting local ports in ``port_ranges``.

    The kernel runs the program per socket: each op moves ``yes`` or ``no`` bytes ahead;
    landing exactly on the end accepts, landing 4 bytes past it rejects. ``yes`` is one byte
    wide, so the long jump to the end goes through a JMP op, which always takes ``no``.
    Per range: ``sport >= start`` (else next range), ``sport <= end`` (else next range),
    then jump to the end. The kernel's validator walks the ``yes`` chain, so every block
    start lies on it.
    """
    if not port_ranges or len(port_ranges) > _MAX_FILTER_RANGES:
        return b""
    if len(port_ranges) == 1 and port_ranges[0][0] <= 1 and port_ranges[0][1] >= 65535:
        return b""
    compare, jump = 2 * _BC_OP.size, _BC_OP.size
    block = 2 * compare + jump
    length = block * len(port_ranges)
    program = bytearray()
    for index, (start, end) in enumerate(port_ranges):
        past = 4 if index == len(port_ranges) - 1 else 0  # a miss in the last block rejects
        program += _BC_OP.pack(_BC_S_GE, compare, block + past) + _BC_OP.pack(0, 0, start)
        program += _BC_OP.pack(_BC_S_LE, compare, compare + jump + past)
        program += _BC_OP.pack(0, 0, end)
        program += _BC_OP.pack(_BC_JMP, jump, length - (index * block + 2 * compare))
    return _NLATTR.pack(_NLATTR.size + len(program), _INET_DIAG_REQ_BYTECODE) + bytes(program)


# One reply as _REPLY unpacks it: length, type, seq, family, state, sport (swapped), src, inode.
_Reply = tuple[int, int, int, int, int, int, bytes, int]


def _receive_dump(sock: socket.socket, seq: int, out: list[RawSocket]) -> None:
    addresses: dict[tuple[int, bytes], str] = {}
    inet_ntop, ipv4, append = socket.inet_ntop, socket.AF_INET, out.append
    done = False
    while not done:
        data = sock.recv(_RECV_BUFFER)
        replies = _parse_uniform(data, seq)
        if replies is None:
            replies, done = _parse_chunk(data, seq)
        for _length, _kind, _seq, family, state, port, raw, inode in replies:
            address = addresses.get((family, raw))
            if address is None:
                address = inet_ntop(family, raw[:4] if family == ipv4 else raw)
                addresses[(family, raw)] = address
            append(RawSocket(family, state, address, ((port & 0xFF) << 8) | (port >> 8), inode))


def _parse_uniform(data: bytes, seq: int) -> list[_Reply] | None:
    """Unpack a chunk whose messages are all replies of one length, in one C-level pass.

    Returns None when the chunk is not like that (it ends the dump, carries an error, or
    mixes lengths); :func:`_parse_chunk` then reads it message by message.
    """
    if len(data) < _REPLY.size:
        return None
    stride = int.from_bytes(data[:4], "little")
    if stride < _REPLY.size or stride % 4 or len(data) % stride:
        return None
    replies: list[_Reply] = list(_uniform_layout(stride).iter_unpack(data))
    for length, kind, msg_seq, *_ in replies:
        if (
            length != stride
            or (kind != _SOCK_DIAG_BY_FAMILY and kind != _TCPDIAG_GETSOCK)
            or (msg_seq != seq)
        ):
            return None
    return replies


@functools.cache
def _uniform_layout(stride: int) -> struct.Struct:
    return struct.Struct(_REPLY.format + f"{stride - _REPLY.size}x")


def _parse_chunk(data: bytes, seq: int) -> tuple[list[_Reply], bool]:
    """Unpack one chunk message by message; return its replies and whether the dump ended."""
    replies: list[_Reply] = []
    offset, size = 0, len(data)
    while offset + _NLMSG_HDR.size <= size:
        length, kind, _flags, msg_seq, _pid = _NLMSG_HDR.unpack_from(data, offset)
        if kind == _NLMSG_DONE or length == 0:
            return replies, True
        if kind == _NLMSG_ERROR:
            code = -struct.unpack_from("=i", data, offset + _NLMSG_HDR.size)[0]
            raise OSError(code, f"sock_diag: {os.strerror(code)}")
        if msg_seq == seq and length >= _REPLY.size:
            replies.append(_REPLY.unpack_from(data, offset))
        offset += (length + 3) & ~3
    return replies, False


def read_procfs(proc: str = "/proc") -> list[RawSocket]:
    """Return every TCP socket but TIME_WAIT ones from ``/proc/net/tcp`` and ``tcp6``.

    Unlike :func:`read_netlink` this keeps accepted connections; :func:`read_sockets` drops
    them so both readers answer alike.
    """
    sockets: list[RawSocket] = []
    for name, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        path = os.path.join(proc, "net", name)
        try:
            with open(path, "rb") as table:
                next(table, None)
                for line in table:
                    fields = line.split()
                    state = int(fields[3], 16)
                    if state == TcpState.TIME_WAIT:
                        continue
                    hex_address, _, hex_port = fields[1].partition(b":")
                    sockets.append(
                        RawSocket(
                            family,
                            state,
                            _proc_address(hex_address, family),
                            int(hex_port, 16),
                            int(fields[9]),
                        )
                    )
        except FileNotFoundError:
            if family == socket.AF_INET6:
                continue  # IPv6 disabled on this host: no tcp6 table, nothing to report
            raise HostAccessError(f"cannot read the socket table {path}: missing") from None
        except OSError as exc:
            raise HostAccessError(f"cannot read the socket table {path}: {exc.strerror}") from exc
    return sockets


def _proc_address(hex_address: bytes, family: int) -> str:
    # /proc prints each 32-bit word of the address in host byte order.
    raw = bytes.fromhex(hex_address.decode())
    words = b"".join(
        struct.pack("=I", int.from_bytes(raw[i : i + 4], "big")) for i in range(0, len(raw), 4)
    )
    return socket.inet_ntop(family, words)


def read_sockets(
    port_ranges: Sequence[tuple[int, int]] = (), *, method: str = "auto"
) -> tuple[list[RawSocket], str]:
    """Return the socket table and which reader produced it (``netlink`` or ``procfs``).

    ``method`` is ``auto`` (netlink, falling back to procfs when netlink is refused),
    ``netlink`` or ``procfs``. ``port_ranges`` is a hint: netlink returns only sockets in
    them, procfs returns everything; callers filter either way.
    """
    if method in ("auto", "netlink"):
        try:
            return read_netlink(port_ranges), "netlink"
        except OSError as exc:
            if method == "netlink":
                raise HostAccessError(f"netlink sock_diag unavailable: {exc}") from exc
            if exc.errno not in (
                errno.EPERM,
                errno.EACCES,
                errno.EAFNOSUPPORT,
                errno.EPROTONOSUPPORT,
                errno.ENOENT,
                errno.EINVAL,
            ):
                raise HostAccessError(f"netlink sock_diag failed: {exc}") from exc
    return without_accepted(read_procfs()), "procfs"
