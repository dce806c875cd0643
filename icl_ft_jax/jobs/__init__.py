"""Jobs that `icl_ft_jax.main` runs: each module has `run(config, workdir)`."""
