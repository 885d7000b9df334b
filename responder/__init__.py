"""The OCSP responder: protocol, signing, misbehaviours, serving."""
