"""Pure checks from observations to findings. `plan` says which run; `registry` holds the codes."""
