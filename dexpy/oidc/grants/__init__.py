"""One module per grant: authlib grant classes with dexpy's persistence hooks."""
