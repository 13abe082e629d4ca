"""`brique agent`, the node side of the `local` executor: runs a node's jobs as real processes.

The server side (`executors/local/executor.py`) only answers the agent's heartbeats; this
package runs on the node, talks to the control plane through the SDK and never imports the
server's services or store.
"""
