"""The bundled Kubernetes control plane: an API server over a revisioned store, and seeded faults.

Written independently of ``model/``: nothing here may import ``model``,
``adapters`` or ``conformance``.
"""
