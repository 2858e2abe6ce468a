"""The ``jaxmix`` command: one module per group of commands, ``main`` in :mod:`.main`."""
