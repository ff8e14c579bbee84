"""The embedded simulator: an OpenAI-compatible server that behaves like a continuous-batching GPU engine."""
