"""Cleaners plan and carry out deletions on the host; they know nothing of Kubernetes."""
