"""The click faces of the engine: the only click users besides wizard/."""
