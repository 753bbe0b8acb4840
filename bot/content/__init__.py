"""Content editors' tools: reviewed conversations into training data, regression reports, model swaps."""
