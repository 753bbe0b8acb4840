"""Custom actions of the Loom & Co. assistant, served by `python -m rasa_sdk --actions actions`.

Actions are thin: they read slots, call services in `bot/` and pick a reply: a response of domain.yml
(`actions/replies.py`).
"""
