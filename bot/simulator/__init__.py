"""A local stand-in for Meta's Graph API (Send API) and a customer simulator page.

Meta cannot be reached from this machine, so tests and `make run` point the Messenger and Instagram
connectors at this fake: it checks Send API calls the way Meta does, signs and delivers webhooks the way
Meta does, and lets a person play the customer in a browser (`python -m bot.simulator`).
"""
