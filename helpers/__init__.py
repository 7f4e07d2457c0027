"""Lab 5 "Deep Learning with Spark": the reference implementation shared by notebooks, tests and tools.

One module per concern; import the one you need (``from helpers import data``). This file stays
import-light on purpose: ``python -m helpers.java`` must run before any dependency is installed.
"""

__version__ = "1.0.0"
