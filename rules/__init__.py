"""The rule catalog: one module per rule, shipped as `dllint.rules`."""
