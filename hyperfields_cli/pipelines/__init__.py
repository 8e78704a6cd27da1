"""End-to-end pipelines that chain model -> field -> renderer -> exporters for a command."""
