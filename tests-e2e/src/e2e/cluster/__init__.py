"""The cluster suite: every node in its own network namespace (see `net`), `make test-cluster`."""
