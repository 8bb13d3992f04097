"""Adapters: one module per kind of target, all behind :class:`adapters.base.Target`."""
