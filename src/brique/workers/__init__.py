"""Background loops of the control plane."""
