"""Customer-support sentiment: VADER for general social-media tone, a domain lexicon for frustration."""
