"""Developer tools: start the whole stack locally (`make run`, tests, benchmarks) and chat in the terminal."""
