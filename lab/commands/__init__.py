"""One module per ``ocsp-lab`` subcommand; each exposes ``register(subparsers)``."""
