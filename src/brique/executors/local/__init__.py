"""The `local` executor: real OS processes on a node, run by `brique agent`."""
