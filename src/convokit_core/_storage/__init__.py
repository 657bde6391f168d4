"""Built-in storage backends (registered as plugins through ``register_storage``)."""
