"""jaxmix: data-mixture optimization for supervised fine-tuning, in JAX."""
