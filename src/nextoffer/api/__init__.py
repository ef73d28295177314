"""HTTP: routes, tenancy, auth and problem+json live here and nowhere else."""
