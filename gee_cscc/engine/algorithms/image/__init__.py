"""``Image.*`` algorithms."""
