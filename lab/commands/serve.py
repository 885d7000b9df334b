"""``ocsp-lab serve [SCENARIO]``: write the PKI, then serve the responder with gunicorn.

The PKI goes to ``--out`` (as ``pki build`` writes it) with its AIA OCSP URL
pointing at this responder. Live changes (admin API) are persisted in the
same directory (``state.sqlite3``, shared by every worker) and survive a
restart; pass ``--fresh`` to start again from the scenario's ``[database]``.
``--replay RESPONSE`` answers every request with exactly that captured
response (:mod:`responder.replay`), as a scenario's ``replay`` does.
SIGTERM and Ctrl-C stop it gracefully.

The worker is gunicorn's asyncio one (``--worker asgi``, the default) over
:class:`responder.asgi.AsgiResponder`: one event loop per process, so a silent
or half-sent connection costs a waiting coroutine, not a thread, and an OCSP
answer is computed where the request was read — no hand-off between threads.
``--worker gthread`` serves the same Flask app with gunicorn's threaded worker
(``--threads`` per process), for comparison and for hosts without asyncio.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import logging
import socket
import sys
import urllib.parse
from pathlib import Path
from typing import Any

from lab.commands.pki_build import add_secret_option, parse_t0, product_pki
from lab.errors import UsageError
from responder.logs import LOG_FORMATS
from responder.logs import configure as configure_logs

__all__ = ["register", "responder_config", "run"]


def _served(path: str | None) -> tuple[Any, Any, Any]:
    """The scenario's responder settings, the page's lesson, and the client the page judges as."""
    from lab.settings import ClientSettings
    from responder.app import Lesson
    from responder.config import ResponderConfig

    if path is None:
        lesson = Lesson(
            title="The default PKI (no scenario given)",
            about="Six certificates, every one good; change them from this page.",
        )
        return ResponderConfig(), lesson, ClientSettings()
    from lab.scenario import load_scenario

    scenario = load_scenario(Path(path))
    return scenario.responder, Lesson(scenario.title, scenario.about or ""), scenario.client


def _timeline(
    path: str | None, lab_pki: Any, database: Any, config: Any, out: Path, export: Any
) -> Any:
    """The scenario's steps on the real clock (lab.serve_timeline), or None without steps.

    It changes the live state through a state object of its own, so that the
    workers forked from this process never inherit a lock it may hold.
    """
    if path is None:
        return None
    from lab.scenario import load_scenario
    from lab.serve_timeline import RealClockTimeline
    from responder.app import served_identity
    from responder.state import ResponderState

    scenario = load_scenario(Path(path))
    if not scenario.steps:
        return None
    state = ResponderState(
        database,
        config.faults,
        directory=out,
        identity=served_identity(lab_pki, database, config),
        index=config.index,
    )
    state.on_records(export)
    return RealClockTimeline(scenario, state)


def responder_config(path: str | None, replay: str | None) -> Any:
    """The scenario's ``[responder]``; ``--replay FILE`` serves that capture instead."""
    from dataclasses import replace

    from lab.capture import CaptureKind
    from lab.commands.certfiles import capture_der, read_capture
    from responder.config import TRANSPORT_FAULTS
    from responder.fault_table import beyond_transport

    config = _served(path)[0]
    if replay is None:
        return config
    capture = read_capture(replay)
    if capture.http is not None:
        raise UsageError(
            f"{replay}: {capture.describe()}, expected an OCSP response as DER, PEM or base64 "
            "(its HTTP status and Content-Type are the faults http_status and content_type)"
        )
    content = beyond_transport(config.faults)
    if content:
        raise UsageError(
            f"--replay {replay}: the scenario's faults {', '.join(content)} cannot apply to a "
            f"replay (only {', '.join(TRANSPORT_FAULTS)}: the captured bytes go out unchanged)"
        )
    return replace(config, replay=capture_der(capture, replay, CaptureKind.OCSP_RESPONSE))


def gunicorn_application(app: Any, options: dict[str, Any]) -> Any:
    """A gunicorn ``BaseApplication`` serving the already-built ``app`` (WSGI or ASGI)."""
    from gunicorn.app.base import BaseApplication

    class ResponderApplication(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return app

    return ResponderApplication()


def _check_port_free(host: str, port: int) -> None:
    """Refuse a port something already listens on.

    Each worker binds its own socket with SO_REUSEPORT (the kernel spreads
    connections over the workers; one shared socket lets the first worker to
    wake accept nearly all of a burst). The flip side: a second ``serve`` on the
    same port would bind too and silently share the clients. A bind without
    SO_REUSEPORT, as here, fails on a port something listens on.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # as gunicorn does: connections of a stopped server in TIME_WAIT do not count
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port} ({exc.strerror})") from None


def run(args: argparse.Namespace) -> int:
    """``serve``: a scenario, or the one ``--ca`` and its options mean (lab.commands.serve_ca)."""
    from lab.commands import serve_ca

    text = serve_ca.ca_scenario(args)
    if text is None:
        return _serve(args)
    if args.print_scenario:
        return serve_ca.print_scenario(text, _check_ca_scenario)
    with serve_ca.scenario_file(text) as path:
        _check_ca_scenario(path)
        args.scenario = path
        return _serve(args)


def _check_ca_scenario(path: str) -> None:
    """Load the scenario ``--ca`` means; its mistakes as errors of ``--ca`` (exit 2)."""
    from lab.errors import ScenarioError
    from lab.scenario import load_scenario

    try:
        load_scenario(Path(path))
    except ScenarioError as exc:
        where = f"{path}: "
        raise UsageError(
            "\n".join(
                f"serve --ca (the scenario --print-scenario shows): {line.removeprefix(where)}"
                for line in exc.lines
            )
        ) from None


def _serve(args: argparse.Namespace) -> int:
    from lab.judge import answer_judge
    from pki import write_pki
    from pki.database import atomic_write
    from pki.openssl_index import export_index, write_index
    from responder.admin_guard import check_admin_token
    from responder.app import ADMIN_PREFIX, create_app, lab_responder
    from responder.asgi import AsgiResponder
    from responder.state import StateError
    from responder.store import remove_state

    try:
        check_admin_token(args.admin_token)
    except ValueError as exc:
        raise UsageError(f"--admin-token: {exc}") from None
    _check_port_free(args.host, args.port)
    if args.tls is not None:
        if args.tls == args.port:
            raise UsageError(f"--tls {args.tls}: the responder's --port; choose another port")
        _check_port_free(args.host, args.tls)
    now = dt.datetime.now(dt.UTC)
    host = args.host
    url_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    base_url = args.base_url or f"http://{url_host}:{args.port}/"
    out = Path(args.out)
    lab_pki, database, secret = product_pki(
        args.scenario, out=out, secret_file=args.secret_file, base_url=base_url, t0=args.t0, now=now
    )
    config, lesson, client = _served(args.scenario)
    config = responder_config(args.scenario, args.replay) if args.replay else config
    try:
        # [responder] index: <ca>.index.txt is the live state's (responder.index_state)
        write_pki(lab_pki, database, out, now=now, secret=secret, keep_index=config.index)
        _remove_interrupted_writes(out)
        if args.fresh:
            remove_state(out)
        app = create_app(
            lab_pki,
            config=config,
            state_dir=out,
            admin_token=args.admin_token,
            admin_hosts=_served_names(host, base_url),
            lesson=lesson,
            # What Unified CM would do with each answer: the page's, computed lab-side.
            judge=answer_judge(lab_pki, client),
        )
        served = AsgiResponder(app) if args.worker == "asgi" else app
        state = lab_responder(app).state
        cas = sorted({c.issuer or c.name for c in lab_pki})

        def export(db: Any, ca: str) -> None:
            # `openssl ocsp -index` on the exported files agrees with the lab (issue 11)
            if ca in config.index:
                return  # written back line by line by the state itself (index_state)
            try:
                text = export_index(db, ca, now=dt.datetime.now(dt.UTC))
                atomic_write(out / f"{ca}.index.txt", text.encode())
            except OSError as exc:
                logging.getLogger("responder.admin").warning(
                    "%s: could not rewrite %s.index.txt (%s)", out, ca, exc.strerror
                )

        for ca in cas:
            if ca not in config.index:
                write_index(state.database, ca, out, now=now)  # kept state, not the scenario's
        state.on_records(export)
        timeline = _timeline(args.scenario, lab_pki, database, config, out, export)
    except StateError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"{out}: cannot write the PKI ({exc.strerror})") from None
    store = state.store
    if store is not None and store.discarded:
        kept = f" ({store.discarded})"
    elif store is not None and store.kept:
        kept = " (state kept from the last run)"
    else:
        kept = ""
    configure_logs(args.log_format, level=logging.WARNING if args.quiet else logging.INFO)
    print(f"PKI written to {out}/; AIA OCSP URL {base_url}{kept}", flush=True)
    aia_host = urllib.parse.urlsplit(base_url).hostname or ""
    if _is_loopback_name(aia_host) and not _is_loopback_name(host):
        # A product on another machine would ask 127.0.0.1, that is, itself.
        print(
            f"warning: listening on {host or 'every address'} but the certificates' AIA points "
            f"at {aia_host}, which a product on another machine cannot reach; pass "
            "--host ADDRESS (or --base-url http://ADDRESS:PORT/)",
            file=sys.stderr,
            flush=True,
        )
    print(f"Status page: http://{url_host}:{args.port}{ADMIN_PREFIX}/", flush=True)
    if args.tls is not None:
        from responder.store import ConnectionLog

        # The page's TLS section: rows written by this (master) process, read by every worker.
        table = ConnectionLog(state.store.path) if state.store is not None else None
        endpoint = _tls_endpoint(args.scenario, lab_pki, host, args.tls, table)
        endpoint.start()  # in the master: the workers, forked after, never accept on it
        print(f"TLS endpoint: {url_host}:{endpoint.port} {endpoint.describe}", flush=True)
    options = {
        "bind": f"[{host}]:{args.port}" if ":" in host else f"{host}:{args.port}",
        "workers": args.workers,
        # asgi: gunicorn's asyncio worker, with a bound on the wait for headers
        "worker_class": (
            "responder.gunicorn_worker.LabAsgiWorker" if args.worker == "asgi" else args.worker
        ),
        "threads": args.threads if args.worker == "gthread" else 1,
        "keepalive": 5,
        "timeout": 30,
        "graceful_timeout": 5,
        "accesslog": None,  # the responder writes one line per request itself
        "loglevel": "warning",
        "preload_app": True,
        "reuse_port": True,
    }
    if args.worker == "asgi":
        options["asgi_lifespan"] = "off"  # nothing to start or stop per worker
    # Everything built so far (PKI, app, libraries) lives as long as the server: keep
    # it out of the cyclic collector's generations, so that a full collection walks
    # only what requests allocate, not ~10^5 long-lived objects (a p99 in tens of ms).
    gc.collect()
    gc.freeze()
    if timeline is not None:
        timeline.start()  # in this (the master) process: each change once, for every worker
    gunicorn_application(served, options).run()
    return 0


class _TlsEndpoint:
    """The TLS endpoint of ``serve --tls`` and the words that describe it."""

    def __init__(self, endpoint: Any, describe: str) -> None:
        self.endpoint = endpoint
        self.describe = describe
        self.port: int = endpoint.port

    def start(self) -> None:
        self.endpoint.start()


def _tls_endpoint(
    scenario_path: str | None, lab_pki: Any, host: str, port: int, table: Any = None
) -> _TlsEndpoint:
    """A TLS endpoint presenting the served scenario's leaf (its first ``expect.cert``).

    It staples the responder's answer when the scenario says ``[tls] staple``,
    fetched from the certificate's AIA (this responder) on the real clock, and
    logs each connection (``responder.tls``: what the peer did, in words) and
    stores it in ``table`` for the status page (:mod:`lab.connection_story`).
    """
    from lab.connection_story import connection_listener
    from lab.scenario import load_scenario
    from lab.tls import StapleSource, TlsEndpoint

    name, staple = "server", False
    if scenario_path is not None:
        scenario = load_scenario(Path(scenario_path))
        name = scenario.expects[0].cert if scenario.expects else "server"
        staple = scenario.tls.staple
    chain = [c.certificate for c in lab_pki.chain(name)]
    issued = lab_pki[name]
    source = (
        StapleSource(chain[0], chain[1] if len(chain) > 1 else chain[0],
                     now=lambda: dt.datetime.now(dt.UTC))
        if staple
        else None
    )  # fmt: skip
    try:
        endpoint = TlsEndpoint(
            issued.certificate,
            issued.private_key,
            chain[1:],
            host=host,
            port=port,
            staple=source,
            on_connection=connection_listener(
                name, issued.certificate.subject.rfc4514_string(), table, stapling=staple
            ),
        )
    except OSError as exc:
        raise UsageError(f"--tls {port}: cannot listen ({exc.strerror})") from None
    return _TlsEndpoint(endpoint, f"presents {name}" + (", stapling" if staple else ""))


def _is_loopback_name(host: str) -> bool:
    from responder.admin_guard import is_loopback

    return host == "localhost" or is_loopback(host)


def _served_names(host: str, base_url: str) -> list[str]:
    """The names a browser may use for this lab: the bind address, the AIA URL's host,
    and, on a wildcard address, this machine's names and their addresses."""
    names = [host, urllib.parse.urlsplit(base_url).hostname or ""]
    if host in ("0.0.0.0", "::", ""):
        for name in {socket.gethostname(), socket.getfqdn()}:
            names.append(name)
            with contextlib.suppress(OSError):
                names += [str(info[4][0]) for info in socket.getaddrinfo(name, None)]
    return names


def _remove_interrupted_writes(out: Path) -> None:
    """Drop what a kill -9 left of an atomic write (``.<file>.<random>`` beside ``<file>``)."""
    for leftover in out.glob(".*.*"):
        target = out / leftover.name[1:].rsplit(".", 1)[0]
        if leftover.is_file() and not leftover.is_symlink() and target.is_file():
            leftover.unlink(missing_ok=True)


def _port(text: str) -> int:
    """A TCP port, 1 to 65535 (argparse turns the ValueError into exit 2 and one line)."""
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a TCP port from 1 to 65535, found {text!r}")
    return int(text)


def _count(most: int) -> Any:
    def count(text: str) -> int:
        if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= most:
            raise argparse.ArgumentTypeError(f"expected a number from 1 to {most}, found {text!r}")
        return int(text)

    return count


def register(commands: Any) -> None:
    serve = commands.add_parser(
        "serve", help="write a scenario's PKI and serve the lab responder (gunicorn)"
    )
    serve.add_argument("scenario", nargs="?", help="scenario file (TOML)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (%(default)s)")
    serve.add_argument("--port", type=_port, default=8080, help="port (%(default)s)")
    serve.add_argument("--out", default="out/serve", help="PKI and state directory (%(default)s)")
    serve.add_argument("--workers", type=_count(64), default=2, help="gunicorn worker processes")
    serve.add_argument(
        "--tls",
        type=_port,
        metavar="PORT",
        help="also serve TLS on PORT, presenting the scenario's leaf (stapling per [tls] staple)",
    )
    serve.add_argument(
        "--worker", choices=("asgi", "gthread"), default="asgi",
        help="gunicorn worker: asyncio event loop (%(default)s) or threads",
    )  # fmt: skip
    serve.add_argument("--threads", type=_count(256), default=8, help="threads per gthread worker")
    serve.add_argument("--admin-token", help="open the admin API beyond loopback, guarded by it")
    serve.add_argument("--base-url", help="the AIA OCSP URL (default: http://HOST:PORT/)")
    serve.add_argument("--t0", type=parse_t0, help="start of the validity windows")
    serve.add_argument("--fresh", action="store_true", help="forget the state of the last run")
    serve.add_argument(
        "--replay", metavar="RESPONSE",
        help="answer every request with exactly this captured response (DER, PEM or base64)",
    )  # fmt: skip
    serve.add_argument("--quiet", action="store_true", help="no log line per request")
    add_secret_option(serve)
    from lab.commands.serve_ca import add_ca_options

    add_ca_options(serve)
    serve.add_argument(
        "--log-format", choices=LOG_FORMATS, default="text",
        help="request log and admin actions as text (%(default)s) or one JSON object a line",
    )  # fmt: skip
    serve.set_defaults(handler=run)
