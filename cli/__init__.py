"""ftk's command-line interface: resolve a target, then sync, run, follow, deploy and chat."""
