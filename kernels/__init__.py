"""Numba kernels: xoshiro256** random streams, exact samplers, birth-death transitions.

Import the submodules directly (``kernels.random``, ``kernels.birth_death``,
``kernels.streams``); nothing is compiled at import time.
"""
