"""Handing a conversation to a person: when to (escalation), and the tickets agents work from."""
