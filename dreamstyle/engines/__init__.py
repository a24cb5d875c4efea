"""The engines: what each kind of Job makes (dream, style, visualize, shift, top, zoom, clips), built
on optim/ and models/. Each is registered once in core/registry.py."""
