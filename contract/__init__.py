"""The facts every part of ftk must agree on, in one place.

The stack (`stacks/`), the job's code (`training/`), the app's code (`inference/`) and the CLI
(`cli/`) all import from here; none of them spells these facts itself. This package imports
neither pulumi nor torch, so the CLI can load it at start-up.

- `contract.outputs`: stack output keys (== the AI Toolkit's infra config keys).
- `contract.env`: environment variable names and the job's and app's environment.
- `contract.layout`: where things live on the share (`RunLayout`, model cache, manifest).
- `contract.exit_codes`: `ExitCode`, the one exit-code vocabulary of `ftk`, the trainer (75 =
  resumable), the inference server and bootstrap.
- `contract.secrets`: the one rule for job secret names, and their ACA secret names.
- `contract.commands`: the job's and the app's command lines.
- `contract.requests`: run requests keyed by the Azure execution they are for (which run it trains).
- `contract.phases`: the start phases the job's and the app's log lines announce.
"""
