"""The operator console and the embeddable chat widget: static files served by the service."""
