"""Reporters: the output formats of ``convokit check`` (table, json, junit, markdown).

Registered as a built-in plugin through ``register_reporters`` (see :mod:`._plugin`).
"""
