"""`oldfilm gui`: a local web page for choosing files, trying settings on a preview and running
jobs, served by the standard library's HTTP server (no extra dependencies).

The page drives the same code as the command line: options dataclasses, ``jobs.discover`` and
``jobs.run_batch`` (atomic outputs, skip existing, resumable video segments). Modules:
settings (form -> options, pure), preview (one frame before/after), tasks (the job queue and its
progress), server (HTTP routes, token, the command).
"""
