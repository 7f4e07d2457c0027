"""Command-line tools: the embedding generator (lab5-embed), the demo and the standalone Spark cluster."""
