"""The action server: rasa-sdk's, with Prometheus metrics (see `bot.action_server.app`)."""
