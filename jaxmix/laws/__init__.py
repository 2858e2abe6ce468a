"""The law families: what a fit fits (the Law interface, one file per family, the registry)."""
