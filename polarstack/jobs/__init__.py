"""The jobs: a scanner or cleaner, what it reads from the cluster, and where it publishes.

The CLI runs a job once; the daemon runs each in a loop. Neither holds job logic of its own.
"""
