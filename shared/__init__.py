"""Task-agnostic services: configuration, the offline shelf, model resolution, data files, training, run folders."""
