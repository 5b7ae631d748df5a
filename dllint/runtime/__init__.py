"""The runtime half: run one real training step under instruments (needs the `runtime` extra)."""
