"""Side-by-side benchmark of jaxmix's laws and peer methods on public experiment data.

Run as ``python -m benchmarks.realdata [--data ../shared/realdata] [--quick]``.
"""
