"""The agent desk: a web app where agents take over conversations the bot handed to a person."""
