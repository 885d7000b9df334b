"""A product run: every scenario's situation set up for the product, the model beside it.

Per scenario (:func:`run_product_scenario`): the reasons it cannot be set up
for the profile first (:func:`lab.product.situation.skip_reason`: reported,
never silent), then the model (:func:`lab.product.compare.run_model`), then
the product's PKI and responder (:class:`~lab.product.situation.ProductLab`)
and, in each Common Criteria mode the profile gives, on the scenario's
initial database and faults, one product connection per ``[[expect]]``
(:func:`lab.product.drivers.drive`).

A timeline scenario (``[[step]]`` s) runs only with ``--timeline real``: its
changing steps run at their real offsets from the connection's start
(:class:`lab.serve_timeline.RealClockTimeline`, as ``serve`` runs them)
while the product holds one connection open; what the product did at each
step — kept the connection, dropped it, re-checked (OCSP requests arriving)
— is compared with the model's timeline.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from OpenSSL import SSL

from lab.product.closing import Closer, close_now
from lab.product.compare import Comparison, ProductMode, ProductScenarioResult, run_model
from lab.product.drivers import Connection, drive
from lab.product.observed import ProductObservation
from lab.product.profile import ProductKind, ProductProfile
from lab.product.situation import (
    ProductLab,
    has_client_auth,
    imports_once,
    private_dir,
    product_t0,
    skip_reason,
    trusted_part,
)
from lab.product_pki import TrustBundle, build_trust_bundle
from lab.product_pki import skip_reason as bundle_skip_reason
from lab.runner import ModeResult
from lab.scenario import Connect, ConnectionOutcome, Scenario
from lab.serve_timeline import RealClockTimeline
from lab.timespec import format_offset
from lab.tls.io import set_security_level
from lab.tls_session import unpresentable
from pki import DEFAULT_BASE_URL, calendar_t0
from pki.secret import LabSecret, installation_secret

__all__ = ["run_product", "run_product_scenario"]


def _folder_name(scenario_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", scenario_id)


def _presented(scenario: Scenario) -> list[str]:
    certs = [e.cert for e in scenario.expects]
    certs += [s.action.cert for s in scenario.steps if isinstance(s.action, Connect)]
    return list(dict.fromkeys(certs))


def _setup_skip(lab: ProductLab, scenario: Scenario) -> str | None:
    """Reasons only the built PKI can tell: what the lab's TLS cannot present, clientAuth."""
    keyless = unpresentable(scenario, lab.pki)  # a certificate from a file without its key
    if keyless is not None:
        return keyless
    server = lab.profile.kind is ProductKind.SERVER
    for cert in _presented(scenario):
        # A certificate OpenSSL cannot load even at security level 0 would pass for a
        # refusal: the endpoint could not present it.
        context = SSL.Context(SSL.TLS_CLIENT_METHOD if server else SSL.TLS_SERVER_METHOD)
        set_security_level(context, 0)  # as the endpoint presents it (ProductLab.endpoint)
        try:
            context.use_certificate(lab.pki[cert].certificate)
            context.use_privatekey(lab.key(cert))
        except SSL.Error as exc:
            return f"the lab's TLS (OpenSSL) cannot present {cert}: {_openssl_reason(exc)}"
        if server and not has_client_auth(lab.pki[cert].certificate):
            return (
                f"{cert} has no clientAuth: a server product cannot be presented it "
                "as a client certificate"
            )
    return None


def _openssl_reason(exc: SSL.Error) -> str:
    errors = exc.args[0] if exc.args and isinstance(exc.args[0], list) else []
    return "; ".join(str(e[-1]) for e in errors if isinstance(e, tuple)) or str(exc)


def _held_cert(scenario: Scenario) -> tuple[str | None, str | None]:
    """The one connection a product holds through a timeline, or why there is none."""
    connects = [s for s in scenario.steps if isinstance(s.action, Connect)]
    certs = {e.cert for e in scenario.expects}
    if len(connects) > 1 or (connects and certs):
        return None, "the product holds one connection from the start; this timeline opens more"
    if connects:
        step = connects[0]
        if step.at:
            return None, (
                f"the product's connection opens at the start; this timeline connects at "
                f"{format_offset(step.at)}"
            )
        assert isinstance(step.action, Connect)
        return step.action.cert, None
    if len(certs) == 1:
        return certs.pop(), None
    return None, "no connection to hold"


def _t0_comparisons(
    lab: ProductLab, scenario: Scenario, mode: ModeResult
) -> tuple[list[Comparison], float]:
    comparisons = []
    spent = 0.0
    for expectation in mode.expectations:
        cert = expectation.expect.cert
        observed = drive(lab, Connection(cert, mode.cc_on, title=scenario.title))
        spent += observed.seconds
        comparisons.append(Comparison(expectation.label, cert, expectation, observed))
    return comparisons, spent


def _at_step(observed: ProductObservation, at: dt.timedelta, slack: float) -> ProductObservation:
    """The held connection as it stood at ``at`` (the product given ``slack`` to act)."""
    if not observed.allowed:
        return observed
    dropped = observed.dropped_after
    if dropped is not None and dropped <= at.total_seconds() + slack:
        return dataclasses.replace(
            observed,
            connection=ConnectionOutcome.DROPPED,
            why=f"dropped {dropped:.1f} s after it opened",
        )
    return dataclasses.replace(observed, why=f"{observed.why}; still open at {format_offset(at)}")


def _timeline_comparisons(
    lab: ProductLab, scenario: Scenario, mode: ModeResult, cert: str
) -> tuple[list[Comparison], float, list[str]]:
    hold = scenario.steps[-1].at.total_seconds()
    timeline = RealClockTimeline(scenario, lab.responder.state)
    timeline.start()
    try:
        observed = drive(lab, Connection(cert, mode.cc_on, hold=hold, title=scenario.title))
    finally:
        timeline.stop()
    assert timeline.started is not None
    events = [f"step done: {label}" for label in timeline.done]
    for request in observed.requests:
        offset = (request.at - timeline.started).total_seconds()
        events.append(f"OCSP request at +{offset:.1f} s: {request.describe()}")
    if observed.dropped_after is not None:
        events.append(f"the product dropped the connection at +{observed.dropped_after:.1f} s")
    comparisons = []
    for expectation in mode.expectations:
        if expectation.expect.cert != cert:
            continue
        at_step = _at_step(observed, expectation.at, lab.profile.seconds)
        comparisons.append(Comparison(expectation.label, cert, expectation, at_step))
    return comparisons, observed.seconds, events


def _modes(
    lab: ProductLab, scenario: Scenario, model_modes: Sequence[ModeResult]
) -> tuple[list[ProductMode], float]:
    modes: list[ProductMode] = []
    spent = 0.0
    for mode in model_modes:
        lab.reset()
        if mode.error is not None:
            modes.append(ProductMode(mode.cc_on, (), error=f"the model: {mode.error}"))
            continue
        if scenario.steps:
            cert, why = _held_cert(scenario)
            assert cert is not None, why
            comparisons, seconds, events = _timeline_comparisons(lab, scenario, mode, cert)
            modes.append(ProductMode(mode.cc_on, tuple(comparisons), events=tuple(events)))
        else:
            comparisons, seconds = _t0_comparisons(lab, scenario, mode)
            modes.append(ProductMode(mode.cc_on, tuple(comparisons)))
        spent += seconds
    return modes, spent


def run_product_scenario(
    scenario: Scenario,
    profile: ProductProfile,
    workdir: Path,
    *,
    timeline: bool = False,
    secret: LabSecret,
    bundle: TrustBundle | None = None,
    closer: Callable[[Callable[[], None]], None] = close_now,
) -> ProductScenarioResult:
    """One scenario against the product: skipped with why, or each mode compared.

    ``bundle``: what a product that imports its trust once imported (``pki
    trust-bundle``'s ``bundle.pem``); a scenario whose trusted certificates
    are not, byte for byte, in it is skipped (:func:`lab.product_pki.skip_reason`).
    """
    started = time.perf_counter()

    def done(**fields: object) -> ProductScenarioResult:
        return ProductScenarioResult(
            scenario,
            seconds=time.perf_counter() - started,
            **fields,  # type: ignore[arg-type]
        )

    reason = skip_reason(scenario, profile, timeline=timeline)
    if reason is None and scenario.steps:
        if profile.kind is ProductKind.SERVER:
            reason = "a timeline holds a connection open: not offered for a server product"
        else:
            reason = _held_cert(scenario)[1]
    if reason is None and bundle is not None:
        trusted = trusted_part(scenario, profile.client.trust, secret, product_t0())
        reason = bundle_skip_reason(scenario, bundle, trust=profile.client.trust, lab_pki=trusted)
    if reason is not None:
        return done(skipped=reason)
    model = run_model(scenario, profile, closer)
    if model.error is not None:
        return done(error=f"the model could not be set up: {model.error}")
    try:
        lab = ProductLab(
            scenario,
            profile,
            private_dir(workdir, _folder_name(scenario.id)),
            product_t0(),
            secret,
        )
    except Exception as exc:  # reported as the scenario's error; the run goes on
        return done(error=f"could not set up: {type(exc).__name__}: {exc}")
    lab.closer = closer
    try:
        reason = _setup_skip(lab, scenario)
        if reason is not None:
            return done(skipped=reason)
        modes, spent = _modes(lab, scenario, model.modes)
    except Exception as exc:  # the run goes on with the next scenario
        return done(error=f"{type(exc).__name__}: {exc}")
    finally:
        lab.close()
    return done(modes=tuple(modes), product_seconds=spent)


def run_product(
    scenarios: Sequence[Scenario],
    profile: ProductProfile,
    *,
    timeline: bool = False,
    secret: LabSecret | None = None,
    jobs: int = 1,
    on_result: Callable[[ProductScenarioResult], None] | None = None,
) -> list[ProductScenarioResult]:
    """Every scenario against the product (``jobs`` at a time); results in order.

    ``secret`` makes what the product trusts (default: the per-installation
    one, :func:`pki.secret.installation_secret`). A product that imports its
    trust once (:func:`~lab.product.situation.imports_once`) is held to the
    selected scenarios' trust bundle, as ``pki trust-bundle`` writes it.
    """
    secret = secret or installation_secret()
    bundle = None
    if imports_once(profile):
        bundle = build_trust_bundle(
            scenarios, base_url=DEFAULT_BASE_URL, secret=secret, t0=calendar_t0(product_t0())
        ).without_variants()
    closer = Closer()
    with tempfile.TemporaryDirectory(prefix="ocsp-lab-product-") as folder:
        workdir = Path(folder)

        def one(scenario: Scenario) -> ProductScenarioResult:
            result = run_product_scenario(
                scenario,
                profile,
                workdir,
                timeline=timeline,
                secret=secret,
                bundle=bundle,
                closer=closer,
            )
            if on_result is not None:
                on_result(result)
            return result

        try:
            if jobs <= 1 or profile.kind is ProductKind.MANUAL:
                return [one(s) for s in scenarios]
            with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="product") as pool:
                return list(pool.map(one, scenarios))
        finally:
            closer.join()
