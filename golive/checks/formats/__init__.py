"""Pure parsers: bytes or decoded objects in, typed values out, no I/O.

k6 summaries and samples, coverage reports, vulnerability reports, Prometheus answers,
OCI manifests, Kubernetes objects, Helm releases; :mod:`.documents` holds the helpers
they share (decoding, typed field access that names the field when it is wrong).
"""
