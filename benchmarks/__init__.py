"""The benchmark suite: the compiled kernels measured side by side with their limits.

Run with ``refractory bench [--quick] [--out DIR]``. Every figure is a median of repeats,
and every judgement is a ratio measured in the same run (these machines are shared).
"""
