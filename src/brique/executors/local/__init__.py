"""The `local` executor, server side: `brique agent` processes (`brique/agent/`) pull their work."""
