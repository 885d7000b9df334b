"""``ocsp-lab serve [SCENARIO]``: write the PKI, then serve the responder with gunicorn.

The PKI goes to ``--out`` (as ``pki build`` writes it) with its AIA OCSP URL
pointing at this responder. Live changes (admin API) are persisted in the
same directory (``state.json``) and survive a restart; pass ``--fresh`` to
start again from the scenario's ``[database]``. Gunicorn runs ``gthread``
workers — a silent or half-sent connection ties up one thread, not a worker —
with keep-alive; SIGTERM and Ctrl-C stop it gracefully.

The worker is gthread with one change (:func:`keep_serving_worker`): after
answering on a kept-alive connection, the thread waits a moment for the next
request on it and serves it itself, instead of handing the connection back to
the poller thread, which costs two thread hand-offs and a wake-up pipe per
request (most of the per-request time of a one-connection client). It only
does so while no other connection waits for a thread, for a few milliseconds
at most, so a silent client still costs nothing but a poller entry.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import socket
import sys
from pathlib import Path
from typing import Any

from lab.commands.pki_build import parse_t0, scenario_pki_spec
from lab.errors import UsageError

__all__ = ["register", "run"]


def _responder_config(path: str | None) -> Any:
    from responder.config import ResponderConfig

    if path is None:
        return ResponderConfig()
    from lab.scenario import load_scenario

    return load_scenario(Path(path)).responder


def gunicorn_application(app: Any, options: dict[str, Any]) -> Any:
    """A gunicorn ``BaseApplication`` serving the already-built Flask ``app``."""
    from gunicorn.app.base import BaseApplication

    class ResponderApplication(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return app

    return ResponderApplication()


#: How long a worker thread waits for the next request on the connection it just served.
KEEP_SERVING_WAIT_MS = 5
#: At most this many requests in a row on one connection before it goes back to the poller.
KEEP_SERVING_MAX = 100


def keep_serving_worker() -> type[Any]:
    """gunicorn's gthread worker, serving a kept-alive connection's next request itself.

    Also: a new connection whose request has not arrived within
    :data:`KEEP_SERVING_WAIT_MS` goes to the poller at once, where stock gthread
    (gunicorn 23+) blocks a thread up to 5 s on it — a few silent clients would
    otherwise hold every thread.
    """
    import select

    from gunicorn.workers import gthread

    def readable(sock: socket.socket) -> bool:
        poll = select.poll()
        poll.register(sock, select.POLLIN)
        return bool(poll.poll(KEEP_SERVING_WAIT_MS))

    class KeepServingThreadWorker(gthread.ThreadWorker):  # type: ignore[misc]
        def handle(self, conn: Any) -> Any:
            if not conn.initialized and not conn.data_ready:
                if not readable(conn.sock):
                    return gthread._DEFER  # the poller calls us back when it speaks
                conn.data_ready = True
            result = super().handle(conn)
            served = 1
            while result is True and self.alive and served < KEEP_SERVING_MAX:
                if self.tpool._work_queue.qsize():  # others wait for a thread: be fair
                    break
                if not conn.parser.unreader.buf.getvalue() and not readable(conn.sock):
                    break  # back to the poller, as stock gthread does
                result = super().handle(conn)
                served += 1
            return result

    return KeepServingThreadWorker


def run(args: argparse.Namespace) -> int:
    from pki import CertificateDatabase, build_pki, calendar_t0, write_pki
    from responder.app import ADMIN_PREFIX, create_app
    from responder.state import STATE_FILE

    now = dt.datetime.now(dt.UTC)
    t0 = args.t0 or calendar_t0(now)
    host = args.host
    url_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    base_url = args.base_url or f"http://{url_host}:{args.port}/"
    out = Path(args.out)
    lab_pki = build_pki(scenario_pki_spec(args.scenario), base_url=base_url, t0=t0)
    config = _responder_config(args.scenario)
    state_file = out / STATE_FILE
    if args.fresh and state_file.exists():
        state_file.unlink()
    kept = " (state kept from the last run)" if state_file.exists() else ""
    database = CertificateDatabase.from_pki(lab_pki)
    try:
        write_pki(lab_pki, database, out, now=now)
        app = create_app(lab_pki, config=config, state_dir=out, admin_token=args.admin_token)
    except OSError as exc:
        raise UsageError(f"{out}: cannot write the PKI ({exc.strerror})") from None
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s [%(process)d] %(message)s",
        stream=sys.stderr,
    )
    print(f"PKI written to {out}/; AIA OCSP URL {base_url}{kept}", flush=True)
    print(f"Status page: http://{url_host}:{args.port}{ADMIN_PREFIX}/", flush=True)
    options = {
        "bind": f"[{host}]:{args.port}" if ":" in host else f"{host}:{args.port}",
        "workers": args.workers,
        "worker_class": keep_serving_worker() if args.keep_serving else "gthread",
        "threads": args.threads,
        "keepalive": 5,
        "timeout": 30,
        "graceful_timeout": 5,
        "accesslog": None,  # the responder writes one line per request itself
        "loglevel": "warning",
        "preload_app": True,
    }
    gunicorn_application(app, options).run()
    return 0


def register(commands: Any) -> None:
    serve = commands.add_parser(
        "serve", help="write a scenario's PKI and serve the lab responder (gunicorn)"
    )
    serve.add_argument("scenario", nargs="?", help="scenario file (TOML)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (%(default)s)")
    serve.add_argument("--port", type=int, default=8080, help="port (%(default)s)")
    serve.add_argument("--out", default="out/serve", help="PKI and state directory (%(default)s)")
    serve.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    serve.add_argument("--threads", type=int, default=8, help="threads per worker")
    serve.add_argument("--admin-token", help="open the admin API beyond loopback, guarded by it")
    serve.add_argument("--base-url", help="the AIA OCSP URL (default: http://HOST:PORT/)")
    serve.add_argument("--t0", type=parse_t0, help="start of the validity windows")
    serve.add_argument("--fresh", action="store_true", help="forget the state of the last run")
    serve.add_argument("--quiet", action="store_true", help="no log line per request")
    serve.add_argument(
        "--stock-gthread", dest="keep_serving", action="store_false",
        help="plain gunicorn gthread workers (for comparison)",
    )  # fmt: skip
    serve.set_defaults(handler=run)
