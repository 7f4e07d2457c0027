"""`make bench`: the project measured against the original pipeline, side by side in one run."""
