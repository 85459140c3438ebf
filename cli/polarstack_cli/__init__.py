"""The ``polarstack`` command line: parses options, calls the library, renders results."""
