"""Built-in sub-commands of ``convokit``."""
