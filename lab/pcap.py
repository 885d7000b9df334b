"""Every OCSP exchange over HTTP in a packet capture (pcap or pcapng), request and response paired.

What a customer sends is often a ``tcpdump -w`` or Wireshark file, not the
response alone. :func:`read_exchanges` reads it with dpkt (a maintained
packet library: the link layers, IPv4/IPv6 and TCP are its), puts each TCP
connection's two byte streams back together in sequence order (RFC 9293
3.4: retransmitted and out-of-order segments are placed by their sequence
number, each byte once), then reads the client's stream as HTTP/1.x requests
and the server's as responses (dpkt.http), paired in order (RFC 9112 9.3:
responses come in the order of the requests on a connection).

An exchange is OCSP when its request carries an OCSPRequest (POST body or
RFC 5019 GET path, by :func:`lab.capture.sniff`) or its response is of type
``application/ocsp-response``. Each exchange keeps its request and response
as the HTTP messages they were, so :mod:`lab.commands.inspect` judges them
as it judges a copied HTTP message: a 500 or a text/html page is the finding.
"""

from __future__ import annotations

import datetime as dt
import io
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

import dpkt

from lab.capture import Capture, CaptureKind, sniff

__all__ = ["PcapError", "PcapExchange", "is_pcap", "read_exchanges"]

#: The first four bytes of a pcap file (either byte order, µs or ns) and of pcapng (SHB).
_PCAP_MAGICS = (
    b"\xd4\xc3\xb2\xa1",
    b"\xa1\xb2\xc3\xd4",
    b"\x4d\x3c\xb2\xa1",
    b"\xa1\xb2\x3c\x4d",
)
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_OCSP_RESPONSE_TYPE = "application/ocsp-response"


class PcapError(ValueError):
    """A capture file that cannot be read (the message says what is wrong)."""


def is_pcap(data: bytes) -> bool:
    """Whether ``data`` starts as a pcap or pcapng file."""
    return data[:4] in _PCAP_MAGICS or data[:4] == _PCAPNG_MAGIC


@dataclass(frozen=True)
class PcapExchange:
    """One HTTP request and its response (None: the capture holds no answer to it)."""

    client: str  # "10.0.0.5:50432"
    server: str  # "10.0.0.1:80"
    at: dt.datetime  # when the request's first segment was captured
    request: Capture
    response: Capture | None
    answered_at: dt.datetime | None = None

    def describe(self) -> str:
        """One line for the list: who asked whom, what, and what came back."""
        http = self.request.http
        line = f"{http.start_line}" if http is not None else "?"
        if self.response is None:
            answer = "no response in the capture"
        elif self.response.http is not None:
            answer = (
                f"{self.response.http.start_line}, "
                f"{self.response.http.content_type or 'no Content-Type'}"
            )
        else:  # pragma: no cover - responses are always HTTP messages here
            answer = self.response.describe()
        when = self.at.strftime("%Y-%m-%d %H:%M:%S.%fZ")
        return f"{when} {self.client} -> {self.server}: {_short(line)} => {answer}"


def _short(line: str, limit: int = 72) -> str:
    return line if len(line) <= limit else line[: limit - 1] + "…"


@dataclass
class _Stream:
    """One direction of a TCP connection: its segments by sequence number."""

    segments: dict[int, bytes] = field(default_factory=dict)
    first_seen: float | None = None
    times: list[tuple[int, float]] = field(default_factory=list)  # (seq, time)
    isn: int | None = None

    def add(self, seq: int, payload: bytes, when: float, syn: bool) -> None:
        if syn:
            self.isn = (seq + 1) & 0xFFFFFFFF
        if not payload:
            return
        if self.first_seen is None:
            self.first_seen = when
        # A retransmission may carry more than the first copy: keep the longest.
        if len(payload) > len(self.segments.get(seq, b"")):
            self.segments[seq] = payload
        self.times.append((seq, when))

    def data(self) -> tuple[bytes, list[tuple[int, float]]]:
        """The bytes in sequence order, each once; and (offset, time) of each segment."""
        if not self.segments:
            return b"", []
        # Without the SYN (a capture started mid-connection): the lowest sequence number.
        base = self.isn if self.isn is not None else min(self.segments)
        out = bytearray()
        for seq in sorted(self.segments, key=lambda s: (s - base) & 0xFFFFFFFF):
            offset = (seq - base) & 0xFFFFFFFF
            payload = self.segments[seq]
            if offset > len(out):
                break  # a gap: the capture missed a segment; what follows cannot be read
            out += payload[len(out) - offset :]
        times = [((seq - base) & 0xFFFFFFFF, when) for seq, when in self.times]
        return bytes(out), times


def _packets(data: bytes) -> Iterator[tuple[float, int, bytes]]:
    """(time, datalink, frame) of every packet; PcapError for a file dpkt cannot read."""
    try:
        reader: dpkt.pcap.Reader | dpkt.pcapng.Reader
        if data[:4] == _PCAPNG_MAGIC:
            reader = dpkt.pcapng.Reader(io.BytesIO(data))
        else:
            reader = dpkt.pcap.Reader(io.BytesIO(data))
        link = reader.datalink()
        for when, frame in reader:
            yield float(when), link, bytes(frame)
    except (ValueError, dpkt.Error, struct.error) as exc:
        raise PcapError(f"not a readable pcap/pcapng file ({exc})") from None


def _ip(link: int, frame: bytes) -> object | None:
    """The IP packet of a frame, for the link layers tcpdump writes (DLT values, pcap-linktype)."""
    try:
        if link == dpkt.pcap.DLT_EN10MB:
            packet: object = dpkt.ethernet.Ethernet(frame).data
        elif link == dpkt.pcap.DLT_LINUX_SLL:
            packet = dpkt.sll.SLL(frame).data
        elif link in (dpkt.pcap.DLT_NULL, dpkt.pcap.DLT_LOOP):
            packet = dpkt.loopback.Loopback(frame).data
        elif link in (dpkt.pcap.DLT_RAW, 101):  # LINKTYPE_RAW is 101 in files, 12/14 in BPF
            packet = dpkt.ip.IP(frame) if frame[:1] and frame[0] >> 4 == 4 else dpkt.ip6.IP6(frame)
        else:
            return None
    except (dpkt.Error, ValueError, struct.error):
        return None
    return packet if isinstance(packet, dpkt.ip.IP | dpkt.ip6.IP6) else None


def _address(packet: object, source: bool) -> str:
    raw = packet.src if source else packet.dst  # type: ignore[attr-defined]
    family = socket.AF_INET6 if len(raw) == 16 else socket.AF_INET
    return socket.inet_ntop(family, raw)


def _endpoint(packet: object, tcp: object, source: bool) -> str:
    port = tcp.sport if source else tcp.dport  # type: ignore[attr-defined]
    host = _address(packet, source)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _http_messages(stream: bytes, request: bool) -> list[tuple[int, bytes]]:
    """(offset, raw message) of each HTTP/1.x message in one direction of a connection."""
    messages = []
    offset = 0
    parse = dpkt.http.Request if request else dpkt.http.Response
    while offset < len(stream):
        rest = stream[offset:]
        try:
            message = parse(rest)
        except (dpkt.Error, ValueError, IndexError):
            break  # not (or no longer) HTTP: what was read stays
        length = len(rest) - len(message.data)
        if length <= 0:
            break
        messages.append((offset, rest[:length]))
        offset += length
    return messages


def _time(times: list[tuple[int, float]], offset: int) -> float:
    """When the segment holding byte ``offset`` was first captured."""
    candidates = [when for start, when in times if start <= offset]
    return min(candidates) if candidates else (times[0][1] if times else 0.0)


def _utc(when: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(when, dt.UTC)


def read_exchanges(data: bytes) -> list[PcapExchange]:
    """Every OCSP exchange over HTTP in a pcap/pcapng file, in the order the requests were sent."""
    streams: dict[tuple[str, str], _Stream] = {}
    starts: dict[tuple[str, str], float] = {}
    for when, link, frame in _packets(data):
        packet = _ip(link, frame)
        if packet is None:
            continue
        tcp = packet.data  # type: ignore[attr-defined]
        if not isinstance(tcp, dpkt.tcp.TCP):
            continue
        key = (_endpoint(packet, tcp, True), _endpoint(packet, tcp, False))
        stream = streams.setdefault(key, _Stream())
        starts.setdefault(key, when)
        stream.add(tcp.seq, bytes(tcp.data), when, bool(tcp.flags & dpkt.tcp.TH_SYN))
    exchanges: list[PcapExchange] = []
    for (client, server), stream in streams.items():
        payload, times = stream.data()
        requests = _http_messages(payload, request=True)
        if not requests:
            continue
        back = streams.get((server, client), _Stream())
        back_payload, back_times = back.data()
        responses = _http_messages(back_payload, request=False)
        for index, (offset, raw) in enumerate(requests):
            request = sniff(raw)
            response = sniff(responses[index][1]) if index < len(responses) else None
            if not _is_ocsp(request, response):
                continue
            answered = _utc(_time(back_times, responses[index][0])) if response else None
            exchanges.append(
                PcapExchange(
                    client=client,
                    server=server,
                    at=_utc(_time(times, offset)),
                    request=request,
                    response=response,
                    answered_at=answered,
                )
            )
    return sorted(exchanges, key=lambda e: e.at)


def _is_ocsp(request: Capture, response: Capture | None) -> bool:
    if request.kind is CaptureKind.OCSP_REQUEST:
        return True
    http = None if response is None else response.http
    return http is not None and http.media_type == _OCSP_RESPONSE_TYPE
