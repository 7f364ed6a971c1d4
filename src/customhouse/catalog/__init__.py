"""Package inventory: catalogers (one module each) run over the layer walk."""
