"""``ocsp-lab explain SCENARIO``: one scenario told as a story, for a learner.

Title and story; the PKI drawn as a tree, with who signs OCSP answers for
whom and who the validator trusts; the responder's behaviour in words; then
each check step by step with its evidence (which model accepted the signer
and why the other did not), the verdict in each Common Criteria mode and the
row of the policy table that decided it; timelines step by step. Plain text,
colour only on a terminal (and never with NO_COLOR). Exit 0 when every
expectation of the scenario holds, 1 when one does not, 2 for a bad file.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lab.commands.check import format_evidence
from lab.errors import UsageError
from lab.misbehaviour import describe_faults
from lab.outcome import CertificateCheckRecord, Expectation, expected_json
from lab.report import Palette
from lab.runner import ModeResult, ScenarioLab, ScenarioResult, mode_name, run_mode
from lab.scenario import Expect, Scenario, load_scenario
from lab.settings import CheckScope, ClientSettings, Stapling
from lab.timespec import format_offset
from responder.config import ResponderConfig

__all__ = ["register", "run", "scenario_path", "story"]


def _responder_lines(
    lab: ScenarioLab, config: ResponderConfig, settings: ClientSettings
) -> Iterator[str]:
    if config.replay is not None:
        # responder.replay: nothing below is signed or looked up while replaying.
        yield (
            f"replays a captured response ({len(config.replay)} bytes, responseStatus "
            f"{_replay_status(config.replay)}) for every request, byte for byte: nothing is "
            "signed, the settings below do not change it"
        )
    signers = lab.responder.database_source.signers.assignments()
    for ca, signer in signers.items():
        who = "the CA itself" if signer == ca else signer
        yield f"answers about certificates issued by {ca} are signed by {who}"
    yield from _self_vouching_lines(lab, config, signers, settings)
    next_update = (
        "no nextUpdate"
        if config.next_update is None
        else (f"answers valid for {format_offset(config.next_update).lstrip('+')}")
    )
    yield (
        f"certificates in the answer: {config.certs.value}; ResponderID by "
        f"{config.responder_id.value}; {next_update}; a certificate it has no record of "
        f"gets {config.not_found.value}"
        + (
            f"; answers signed with {config.signature_hash.value}"
            if config.signature_hash is not None
            else ""
        )
    )
    faults = describe_faults(config.faults)
    yield "misbehaviour: " + ("; ".join(faults) if faults else "none, it behaves")


def _replay_status(body: bytes) -> str:
    from responder.protocol import status_name
    from responder.replay import replay_status

    return status_name(replay_status(body))


def _self_vouching_lines(
    lab: ScenarioLab, config: ResponderConfig, signers: dict[str, str], settings: ClientSettings
) -> Iterator[str]:
    """A note for each CA that signs the answer about its own certificate.

    ``signer = "intermediate"`` means every answer (SCENARIOS.md), so also the
    one about the intermediate, which root issued. That is what the contract
    says, and NSS rightly rejects the chain — yet it surprises people who
    meant "the CA signs directly", so the story says it and how to say that.
    """
    for cert in lab.pki.cas():
        if cert.issuer is None or signers.get(cert.issuer) != cert.name:
            continue  # self-signed roots are never asked about
        name, issuer = cert.name, cert.issuer
        given = f"signers.{issuer}" if issuer in config.signers else "signer"
        asked = (
            ""
            if settings.check is CheckScope.CHAIN
            else ' (with check = "leaf" the validator does not ask about it here)'
        )
        yield (
            f'note: {name} signs the answer about itself ({given} = "{name}" gives it the '
            f"answers about {issuer}'s certificates): a CA vouching for its own status; "
            f"RFC 6960 4.2.2.2 lets only its issuer ({issuer}) or the issuer's delegated "
            f'responder answer for it — use signers = {{ {name} = "{name}" }} to have {name} '
            f"sign the answers about the certificates it issued{asked}"
        )


def _client_lines(settings: ClientSettings) -> Iterator[str]:
    default = ClientSettings()
    yield f"trust store (tomcat-trust): {', '.join(settings.trust) or 'empty'}"
    changed = [
        f"{name} = {_shown(getattr(settings, name))}"
        for name in settings.__dataclass_fields__
        if name != "trust" and getattr(settings, name) != getattr(default, name)
    ]
    yield "settings changed from the defaults: " + (", ".join(changed) if changed else "none")
    modes = settings.modes()
    yield "runs with " + " and ".join("Common Criteria " + ("ON" if m else "OFF") for m in modes)


def _shown(value: object) -> str:
    if hasattr(value, "total_seconds"):
        return format_offset(value).lstrip("+")  # type: ignore[arg-type]
    if hasattr(value, "value"):
        return str(value.value)
    return str(value)


def _check_lines(record: CertificateCheckRecord, paint: Palette) -> Iterator[str]:
    if not record.result.checks:
        yield f"    no OCSP request: {record.decided_by}"
        return
    for check in record.result.checks:
        evidence = check.evidence
        yield paint.bold(f"    certificate {evidence.subject} (serial {evidence.serial or 0:X})")
        yield from format_evidence(evidence, indent="      ")
    if record.stand_in:
        yield "    a cached answer stood in for the missing one"


def _expected_words(expect: Expect) -> str:
    on, off = expected_json(expect, True), expected_json(expect, False)
    words = []
    for key in on:
        if key == "cert":
            continue
        if on[key] == off[key]:
            words.append(f"{key} {on[key]}")
        else:
            words.append(f"{key} {on[key]} (CC ON) / {off[key]} (CC OFF)")
    return ", ".join(words)


def _verdict_line(mode: ModeResult, expectation: Expectation, paint: Palette) -> str:
    record = expectation.actual.record
    decided = record.decided_by if record is not None else "no check"
    holds = (
        paint.good("as expected")
        if expectation.holds
        else paint.bad("NOT as expected: " + "; ".join(str(m) for m in expectation.mismatches))
    )
    return f"    {mode.mode:<6} {decided} — {holds}"


#: The story's width: it reads in an 100-column terminal, or projected (issue 15).
WIDTH = 100
_ESCAPES = re.compile(r"\x1b\[[0-9;]*m")
_TREE_PREFIX = re.compile(r"[ │├└─]*")


def fit(text: str, width: int = WIDTH) -> str:
    """Wrap every line longer than ``width`` under its own indentation (tree lines too)."""
    out: list[str] = []
    for line in text.split("\n"):
        visible = _ESCAPES.sub("", line)
        if len(visible) <= width:
            out.append(line)
            continue
        prefix = _TREE_PREFIX.match(visible)
        lead = prefix.group(0) if prefix else ""
        # Continuation lines keep the tree's verticals and indent under the text.
        under = lead.replace("├", "│").replace("└", " ").replace("─", " ") + "    "
        out += textwrap.wrap(
            visible[len(lead) :],
            width=width,
            initial_indent=lead,
            subsequent_indent=under,
            break_on_hyphens=False,
        )
    return "\n".join(out)


def story(scenario: Scenario, result: ScenarioResult, lab: ScenarioLab, paint: Palette) -> str:
    """The whole story as text."""
    lines = [
        paint.bold(scenario.title),
        f"({scenario.id}; tags: {', '.join(scenario.tags) or '-'})",
        "",
    ]
    if scenario.about:
        lines += [scenario.about.strip(), ""]
    from lab.pki_tree import render_tree

    lines += [paint.bold("The PKI"), render_tree(lab.pki, lab.responder.state.database), ""]
    lines += [
        paint.bold("The responder"),
        *(f"  {x}" for x in _responder_lines(lab, scenario.responder, scenario.client)),
        "",
    ]
    lines += [paint.bold("The validator"), *(f"  {x}" for x in _client_lines(scenario.client)), ""]
    lines += [
        "  Policy: good → allowed; revoked → refused; unknown → refused with Common Criteria ON, "
        "allowed OFF; no trustworthy answer → soft_fail decides (on when Common Criteria is "
        "OFF); a certificate outside its validity period → refused"
        + (
            "; a must-staple certificate without a staple → refused in both modes (RFC 7633)."
            if scenario.client.stapling is Stapling.REQUIRE
            else "."
        ),
        "",
    ]
    if scenario.tls.staple:
        lines[-2:-2] = [
            "  The TLS endpoint staples the responder's answer ([tls] staple): fetched when it "
            "has none or its last one is past its nextUpdate.",
        ]
    if result.error:
        lines.append(paint.bad(f"The lab could not be set up: {result.error}"))
        return "\n".join(lines)
    for index, expect in enumerate(scenario.expects):
        lines.append(paint.bold(f"Check {index + 1}: a peer presents {expect.cert} at t0"))
        first = result.modes[0].expectations[index]
        if first.actual.record is not None:
            lines += list(_check_lines(first.actual.record, paint))
        lines.append(f"    expected: {_expected_words(expect)}")
        for mode in result.modes:
            lines.append(_verdict_line(mode, mode.expectations[index], paint))
        lines.append("")
    if scenario.steps:
        lines += _timeline_lines(scenario, result, paint)
    for mode in result.modes:
        if mode.error:
            lines.append(paint.bad(f"{mode.mode}: the run stopped: {mode.error}"))
    verdict = (
        paint.good("every expectation holds")
        if result.holds
        else paint.bad("some expectations do not hold")
    )
    lines.append(verdict)
    return "\n".join(lines)


def _timeline_lines(scenario: Scenario, result: ScenarioResult, paint: Palette) -> list[str]:
    settings = scenario.client
    interval = settings.recheck_interval
    if interval is None:
        rule = "no periodic re-check (neither revocation_check nor validity_check is set)"
    else:
        source = "revocation_check" if settings.revocation_check is not None else "validity_check"
        rule = f"re-checks every {format_offset(interval).lstrip('+')} ({source})"
    lines = [paint.bold("The timeline") + f" — {rule}"]
    for mode in result.modes:
        lines.append(paint.bold(f"  {mode_name(mode.cc_on)}:"))
        step_checks = {e.label: e for e in mode.expectations if not e.label.startswith("expect[")}
        for event in mode.events:
            decided = f" — {event.record.decided_by}" if event.record is not None else ""
            lines.append(f"    {format_offset(event.at):>8}  {event.what}{decided}")
        for label, expectation in step_checks.items():
            mark = (
                paint.good("holds")
                if expectation.holds
                else paint.bad("FAILS: " + "; ".join(str(m) for m in expectation.mismatches))
            )
            lines.append(f"    {label}: {mark}")
    lines.append("")
    return lines


def scenario_path(given: str) -> Path:
    """A scenario file, or a catalog id as ``scenarios/README.md`` prints it (``basics/good``).

    A path that exists is taken as it is; else ``ID`` is looked up as
    ``ID.toml`` in the catalog (``scenarios/`` here, else the installed one).
    """
    path = Path(given)
    if path.exists() or path.suffix == ".toml":
        return path
    from lab.commands.run import default_paths

    for catalog in default_paths():
        candidate = catalog / f"{given}.toml"
        if candidate.is_file():
            return candidate
    raise UsageError(
        f"{given}: no such scenario file, and no scenario with that id in the catalog "
        "(expected a .toml file or an id as scenarios/README.md lists them, e.g. basics/good)"
    )


def run(args: argparse.Namespace) -> int:
    import time

    scenario = load_scenario(scenario_path(args.scenario))
    started = time.perf_counter()
    lab = ScenarioLab(scenario)
    try:
        modes = tuple(run_mode(lab, cc_on) for cc_on in scenario.client.modes())
        result = ScenarioResult(scenario, modes, time.perf_counter() - started)
        # The tree shows the database as the scenario starts it.
        lab.reset()
        print(fit(story(scenario, result, lab, Palette.for_stream(sys.stdout))))
    finally:
        lab.close()
    return 0 if result.holds else 1


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "explain",
        help="tell one scenario's story step by step",
        description="Run one scenario and tell its story: the PKI, the responder, each check "
        "with its evidence, the verdict per mode and the policy row that decided it.",
    )
    parser.add_argument(
        "scenario", metavar="SCENARIO", help="scenario file (TOML), or an id such as basics/good"
    )
    parser.set_defaults(handler=run)
