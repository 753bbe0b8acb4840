"""Our NLU components, which config.yml names; importing them also fixes Rasa's data search (data_search)."""

from bot.nlu import data_search

data_search.install()
