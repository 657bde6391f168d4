"""``convokit watch``: notifiers, the notification ledger and the watch loop."""
