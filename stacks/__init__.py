"""Pulumi components that declare ftk's Azure infrastructure (one stack per environment)."""
