"""`inward serve`: an OpenAI-compatible loopback server over the local backend."""
