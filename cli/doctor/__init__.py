"""`ftk doctor`: know before `pulumi up` or a run whether it can work, what to fix, what it costs.

`diagnose` puts the target's own rows (`Target.checks()`: on Azure `cli/targets/aca/doctor/`)
before the run-config rows of `run_checks`; `report` holds the report; `preflight` is the cheap
part `ftk run` uses. Nothing here knows which platform a target stands for.
"""
