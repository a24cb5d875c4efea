"""The request and how it runs: Job, typed settings, the engine registry, `run`, planning a command
line into Jobs, batches, presets and the terminal's view. Torch-free at import; engines are reached
only through the registry."""
