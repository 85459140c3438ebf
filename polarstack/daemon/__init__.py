"""The long-running agent: each job in its own loop, version watches, and the HTTP server."""
