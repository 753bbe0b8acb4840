"""`python -m bot.rasa_server run ...`: see bot/rasa_server/server.py."""

from bot.rasa_server.server import main

if __name__ == "__main__":
    main()
