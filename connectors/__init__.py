"""Custom Rasa channels for the social platforms (Messenger, Instagram, X); they run in runtime A."""
