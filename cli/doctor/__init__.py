"""`ftk doctor`: know before `pulumi up` or a run whether it can work, what to fix, what it costs.

`report` holds the rows, `arm` the ARM reads, `deployment` what the target says about itself,
`azure_checks`, `access_checks` and `run_checks` the checks, `diagnose` puts them together,
`preflight` is the cheap part `ftk run` uses.
"""
