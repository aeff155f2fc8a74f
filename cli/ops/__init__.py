"""Plain functions behind the verbs: they take a target and arguments, return results, and raise
`FtkError`. They know nothing of Click and never print, so tests call them directly."""
