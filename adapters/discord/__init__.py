"""The Discord adapter: the core on discord.py 2.x with Discord's native UI.

It translates and holds no business rules: app commands are generated from the core's command
declarations (``commands``), interactions are answered within Discord's 3 seconds
(``interactions``, ``replies``), buttons and forms carry the core's ids (``buttons``,
``forms``), messages are rendered as Discord markdown (``render``) and nudges are delivered
exactly once through DMs and private threads (``messenger``). ``main.run_discord`` is what
``mentorbot discord`` runs; see README.md in this folder to set up a bot.
"""
