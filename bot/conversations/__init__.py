"""Conversations as Rasa keeps them: the one reader of Rasa events, our metadata contract, Rasa's HTTP API."""
