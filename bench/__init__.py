"""Benchmark entry points (`python -m bench.<name>`), each measuring with the machine's figures in the same run.

May import anything of ours, the API's app factory included (bench.upload serves the real app); nothing imports
bench, and eval in particular does not.
"""
