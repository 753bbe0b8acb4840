"""Social monitoring: every customer message recorded, spikes of negative messages, moderation."""
