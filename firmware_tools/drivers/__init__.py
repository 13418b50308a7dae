"""Board drivers, one per family; each turns the operations' requests into a protocol dialogue."""
