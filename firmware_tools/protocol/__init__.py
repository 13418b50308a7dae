"""Wire protocols of the boards as pure functions on bytes: no ports, no timing, no I/O."""
