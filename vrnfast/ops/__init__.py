"""One module per op: its reference implementation and its routing to the fast backends."""
