"""The PKI drawn as a tree: issuers above, children indented, any depth."""

from __future__ import annotations

from lab.pki_tree import render_tree
from pki import CertSpec, PKISpec, Profile, build_pki

DEPTH = 1500  # beyond Python's default recursion limit (1000)


def test_render_tree_draws_children_under_their_issuer() -> None:
    pki = build_pki(
        PKISpec.with_defaults(
            (
                CertSpec("sub", issuer="intermediate", profile=Profile.CA),
                CertSpec("deep", issuer="sub"),
            )
        )
    )
    names = [line.split("  (")[0] for line in render_tree(pki).splitlines()]
    assert names == [
        "root",
        "├─ intermediate",
        "│  ├─ server",
        "│  ├─ responder",
        "│  └─ sub",
        "│     └─ deep",
        "└─ root-responder",
        "trusted-responder",
    ]


def test_render_tree_draws_a_chain_deeper_than_the_recursion_limit() -> None:
    specs = [CertSpec("ca0", issuer="root", profile=Profile.CA)]
    specs += [CertSpec(f"ca{i}", issuer=f"ca{i - 1}", profile=Profile.CA) for i in range(1, DEPTH)]
    pki = build_pki(PKISpec.with_defaults(tuple(specs)))
    lines = render_tree(pki).splitlines()
    assert len(lines) == len(list(pki))
    deepest = next(line for line in lines if line.lstrip(" │├└─").startswith(f"ca{DEPTH - 1} "))
    # ca0 is the root's last child, each ca{i} the only child of ca{i-1}: three spaces a level.
    assert deepest.startswith(" " * 3 * (DEPTH - 1) + f"└─ ca{DEPTH - 1}  (ca, ")
