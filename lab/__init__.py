"""ocsp-lab: the validator, the revocation policy, scenarios, runner and CLI."""
