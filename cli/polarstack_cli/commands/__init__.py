"""One module per job; each parses its options and calls the library."""
