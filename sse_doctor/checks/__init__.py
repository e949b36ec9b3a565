"""Pure checks from observations to findings. `checks.selection` says which run; the codes
they emit are registered in `sse_doctor.codes`."""
