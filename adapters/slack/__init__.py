"""The Slack adapter: slack-bolt's ``AsyncApp`` in front of the platform-neutral core.

It translates and nothing more: Slack's payloads become ``Caller`` values and command lines,
forms and clicks for ``bot.core.Mentorbot``; the core's replies and nudges become Block Kit
messages, modals and the App Home. Every rule about who may do what lives in the core.

Modules, one job each: ``main`` (token checks, then serve), ``adapter`` (clients, ``auth.test``,
Socket Mode or HTTP), ``app`` (the Bolt listeners), ``actor`` (answering the person who acted),
``menu`` (``/mentor`` alone), ``text_in`` (Slack's escaped text to the core's syntax),
``render`` (segments to mrkdwn and blocks), ``modals`` (forms to modals and back), ``home``
(the App Home), ``identity`` (who is speaking), ``messenger`` (nudges: the core's
``Messenger`` port), ``delivery`` (Slack errors as the port's exceptions), ``pacing`` (about one
message a second per channel), ``logs`` (no token in any log line). Set-up: ``README.md`` and
``manifest.yml`` here.
"""
