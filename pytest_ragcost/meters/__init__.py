"""Energy and resource meters, one module per source, imported lazily."""
