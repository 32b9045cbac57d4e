"""No models: this app owns no tables."""
