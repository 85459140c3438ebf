"""Scanners read the host and return frozen dataclasses; they know nothing of Kubernetes."""
