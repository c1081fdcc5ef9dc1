"""pixbench: reproducible image-degradation datasets and benchmarks.

The data flow is ``sources -> degradations -> recipe + build -> dataset on disk
-> train/export -> evaluate -> results -> leaderboard``; each stage lives in its
own module and reads only what the stage before it wrote.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
