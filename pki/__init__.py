"""Scripted, deterministic PKI: keys, certificate profiles, the CA database, export."""
