"""Packet captures: every OCSP exchange over HTTP found and paired, and ``inspect --exchange N``.

The captures are written in the test with dpkt (pcap and pcapng, Ethernet,
IPv4 and IPv6) from known exchanges: a POST answered in two segments sent
out of order with a retransmission, a GET on the same keep-alive connection,
a 503 from a proxy, a request never answered, and plain HTTP that is no OCSP.
"""

from __future__ import annotations

import base64
import io
import socket
from collections.abc import Callable
from pathlib import Path

import dpkt
import pytest
from cryptography.hazmat.primitives import serialization

from lab.cli import main
from lab.ocsp_request import build_request
from lab.pcap import read_exchanges
from pki import PKI
from tests.ocsp_forge import NOW, Single, forge

T = NOW.timestamp()
AT = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
NONCE = b"\x09" * 32
CLIENT, SERVER = ("10.0.0.5", 50000), ("10.0.0.1", 80)
CLIENT6, SERVER6 = ("fd00::5", 50001), ("fd00::1", 8080)
ACK, SYN, PSH = dpkt.tcp.TH_ACK, dpkt.tcp.TH_SYN, dpkt.tcp.TH_PUSH


class Conversation:
    """The frames of TCP connections, written as a peer's stack would number them."""

    def __init__(self) -> None:
        self.frames: list[tuple[float, bytes]] = []
        self.seq: dict[tuple[object, object], int] = {}

    def _frame(self, src: tuple[str, int], dst: tuple[str, int], seq: int, data: bytes,
               flags: int) -> bytes:  # fmt: skip
        tcp = dpkt.tcp.TCP(sport=src[1], dport=dst[1], seq=seq, flags=flags, data=data)
        if ":" in src[0]:
            ip: dpkt.Packet = dpkt.ip6.IP6(
                src=socket.inet_pton(socket.AF_INET6, src[0]),
                dst=socket.inet_pton(socket.AF_INET6, dst[0]),
                nxt=dpkt.ip.IP_PROTO_TCP, hlim=64, data=tcp, plen=len(bytes(tcp)),
            )  # fmt: skip
            kind = dpkt.ethernet.ETH_TYPE_IP6
        else:
            ip = dpkt.ip.IP(
                src=socket.inet_aton(src[0]), dst=socket.inet_aton(dst[0]),
                p=dpkt.ip.IP_PROTO_TCP, data=tcp,
            )  # fmt: skip
            kind = dpkt.ethernet.ETH_TYPE_IP
        return bytes(dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6, type=kind, data=ip))

    def open(self, at: float, client: tuple[str, int], server: tuple[str, int]) -> None:
        self.seq[(client, server)], self.seq[(server, client)] = 1000, 90000
        self.frames.append((at, self._frame(client, server, 999, b"", SYN)))
        self.frames.append((at, self._frame(server, client, 89999, b"", SYN | ACK)))

    def send(self, at: float, src: tuple[str, int], dst: tuple[str, int], data: bytes,
             parts: int = 1, reorder: bool = False, again: bool = False) -> None:  # fmt: skip
        start = self.seq[(src, dst)]
        size = -(-len(data) // parts)
        chunks = [(start + i, data[i : i + size]) for i in range(0, len(data), size)]
        frames = [self._frame(src, dst, seq, chunk, ACK | PSH) for seq, chunk in chunks]
        if reorder:
            frames.reverse()
        if again:
            frames.append(frames[0])  # a retransmission
        self.frames += [(at + n * 0.001, frame) for n, frame in enumerate(frames)]
        self.seq[(src, dst)] = start + len(data)


def _post(request: bytes) -> bytes:
    head = "POST /ocsp HTTP/1.1\r\nHost: ocsp.example\r\nContent-Type: application/ocsp-request"
    return f"{head}\r\nContent-Length: {len(request)}\r\n\r\n".encode() + request


def _get(request: bytes) -> bytes:
    target = "/" + base64.b64encode(request).decode().replace("/", "%2F").replace("+", "%2B")
    return f"GET {target} HTTP/1.1\r\nHost: ocsp.example\r\n\r\n".encode()


def _answer(body: bytes, status: str = "200 OK", ctype: str = "application/ocsp-response") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


@pytest.fixture(scope="module")
def known(default_pki: PKI, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    directory = tmp_path_factory.mktemp("pcap")
    server, intermediate = (
        default_pki["server"].certificate,
        default_pki["intermediate"].certificate,
    )
    for name in ("server", "intermediate"):
        pem = default_pki[name].certificate.public_bytes(serialization.Encoding.PEM)
        (directory / f"{name}.pem").write_bytes(pem)
    signer = default_pki["responder"]
    revoked = Single(server, intermediate, status="revoked", reason="keyCompromise")
    exchanges = {
        "req1": build_request(server, intermediate, nonce=NONCE).der,
        "resp1": forge(signer=signer, singles=[revoked], nonce=NONCE),
        "req2": build_request(server, intermediate).der,
        "resp2": forge(signer=signer, singles=[Single(server, intermediate)]),
        "req3": build_request(server, intermediate, nonce=b"\x0a" * 32).der,
        "req4": build_request(server, intermediate, nonce=b"\x0b" * 32).der,
    }
    for name, der in exchanges.items():
        (directory / f"{name}.der").write_bytes(der)
    talk = Conversation()
    talk.open(T - 5, CLIENT, SERVER)
    talk.send(T - 4, CLIENT, SERVER, _post(exchanges["req1"]))
    talk.send(T - 3, SERVER, CLIENT, _answer(exchanges["resp1"]), parts=3, reorder=True, again=True)
    talk.send(T - 2, CLIENT, SERVER, _get(exchanges["req2"]), parts=2)
    talk.send(T - 1, SERVER, CLIENT, _answer(exchanges["resp2"]))
    talk.open(T - 1.5, CLIENT6, SERVER6)
    talk.send(T - 1.4, CLIENT6, SERVER6, _post(exchanges["req3"]))
    talk.send(
        T - 1.3, SERVER6, CLIENT6, _answer(b"<html>down</html>", "503 Unavailable", "text/html")
    )
    web = (CLIENT[0], 50002)
    talk.open(T - 0.9, web, SERVER)
    talk.send(T - 0.8, web, SERVER, b"GET /index.html HTTP/1.1\r\nHost: example\r\n\r\n")
    talk.send(T - 0.7, SERVER, web, _answer(b"<html>hi</html>", ctype="text/html"))
    unanswered = (CLIENT[0], 50003)
    talk.open(T - 0.5, unanswered, SERVER)
    talk.send(T - 0.4, unanswered, SERVER, _post(exchanges["req4"]))
    frames = sorted(talk.frames, key=lambda f: f[0])
    for suffix, writer in (("pcap", dpkt.pcap.Writer), ("pcapng", dpkt.pcapng.Writer)):
        out = io.BytesIO()
        w = writer(out)
        for when, frame in frames:
            w.writepkt(frame, ts=when)
        (directory / f"capture.{suffix}").write_bytes(out.getvalue())
    return {"dir": directory, **exchanges}


@pytest.mark.parametrize("suffix", ["pcap", "pcapng"])
def test_every_exchange_is_found_and_paired(known: dict[str, object], suffix: str) -> None:
    directory = known["dir"]
    assert isinstance(directory, Path)
    found = read_exchanges((directory / f"capture.{suffix}").read_bytes())
    assert [e.request.der for e in found] == [known[k] for k in ("req1", "req2", "req3", "req4")]
    responses = [None if e.response is None else e.response for e in found]
    assert responses[0] is not None and responses[0].der == known["resp1"]
    assert responses[1] is not None and responses[1].der == known["resp2"]
    assert responses[2] is not None and responses[2].http is not None
    assert responses[2].http.status == 503 and responses[2].http.media_type == "text/html"
    assert responses[3] is None
    assert [e.request.http.start_line.split()[0] for e in found if e.request.http] == [
        "POST", "GET", "POST", "POST",
    ]  # fmt: skip
    assert (found[0].client, found[0].server) == ("10.0.0.5:50000", "10.0.0.1:80")
    assert (found[2].client, found[2].server) == ("[fd00::5]:50001", "[fd00::1]:8080")


def _verdict(out: str) -> str:
    (line,) = [line for line in out.splitlines() if line.startswith("verdict ")]
    return line


def _files(directory: Path) -> list[str]:
    return [
        "--issuer",
        str(directory / "intermediate.pem"),
        "--cert",
        str(directory / "server.pem"),
    ]


@pytest.mark.parametrize(
    ("n", "response", "request_", "code"), [(1, "resp1", "req1", 1), (2, "resp2", "req2", 0)]
)
def test_inspect_picks_an_exchange_and_judges_it_as_the_files_alone(
    known: dict[str, object], n: int, response: str, request_: str, code: int,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    directory = known["dir"]
    assert isinstance(directory, Path)
    args = [*_files(directory), "--at", AT]
    assert main(["inspect", str(directory / "capture.pcap"), "--exchange", str(n), *args]) == code
    out = capsys.readouterr().out
    assert "4 OCSP exchange(s) over HTTP" in out and f"* {n}. " in out
    assert "POST /ocsp HTTP/1.1 => HTTP/1.1 200 OK, application/ocsp-response" in out
    alone = [str(directory / f"{response}.der"), "--request", str(directory / f"{request_}.der")]
    assert main(["inspect", *alone, *args]) == code
    assert _verdict(out) == _verdict(capsys.readouterr().out)


def test_a_proxy_s_503_and_an_unanswered_request_are_findings(
    known: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    directory = known["dir"]
    assert isinstance(directory, Path)
    capture = str(directory / "capture.pcapng")
    assert main(["inspect", capture, "--exchange", "3", *_files(directory)]) == 1
    out = capsys.readouterr().out
    assert "transport   fail HTTP status 503" in out and "verdict refused (row 'error'" in out
    assert main(["inspect", capture, "--exchange", "4", *_files(directory), "--cc", "off"]) == 0
    out = capsys.readouterr().out
    assert "no response to this request" in out and "allowed, flagged soft-fail" in out


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda d: (d / "capture.pcap").read_bytes()[:30], "not a readable pcap/pcapng file"),
        (lambda d: (d / "capture.pcap").read_bytes()[:24], "no OCSP exchange over HTTP"),
    ],
    ids=["truncated", "empty"],
)
def test_a_bad_capture_is_one_line(
    known: dict[str, object], tmp_path: Path, make: Callable[[Path], bytes], expected: str,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    directory = known["dir"]
    assert isinstance(directory, Path)
    (tmp_path / "bad.pcap").write_bytes(make(directory))
    assert main(["inspect", str(tmp_path / "bad.pcap")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err
    assert main(["inspect", str(directory / "capture.pcap"), "--exchange", "9"]) == 2
    assert "--exchange 9: expected 1 to 4" in capsys.readouterr().err
