"""params.yaml: schema, registry and input checks, loading, and the typed objects built from it."""
