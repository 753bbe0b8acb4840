"""The Rasa server process (runtime A): its launcher, and calls to the action server that survive restarts."""
